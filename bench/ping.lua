-- wrk script: MCP ping over Streamable HTTP on one existing session (SID from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = os.getenv("SID")
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"ping"}'

function response(status, headers, body)
  if status ~= 200 or body ~= '{"result":{},"jsonrpc":"2.0","id":1}' then
    error("unexpected answer: " .. status .. " " .. body)
  end
end
