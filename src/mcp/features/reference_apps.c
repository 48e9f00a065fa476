/*
 * The reference pack's MCP Apps demo (the extension "io.modelcontextprotocol/ui"): the tool
 * mcp_apps_hello_world, whose definition names the UI resource ui://hello-world/app.html, and
 * that resource, a self-contained HTML view (no build step, no external resource, so the host's
 * default Content-Security-Policy suffices) that speaks the extension's postMessage JSON-RPC with
 * the host. The tool is offered only to clients that declared the extension with the
 * text/html;profile=mcp-app MIME type (docs/reference-server.md says why); the resource is read
 * by URI and not listed, as the extension allows and as the reference server does.
 */
#include <string.h>

#include "lib/json.h"
#include "mcp/features/reference_internal.h"

#define APPS_EXTENSION "io.modelcontextprotocol/ui"

/* The extension's settings require mimeTypes; a host that cannot render this profile is not
 * offered a tool whose only point is the view. */
bool ref_apps_offered(const struct mcp_call *c)
{
    const json_t *caps = mcp_call_client_capabilities(c);
    const json_t *ui = json_object_get(json_object_get(caps, "extensions"), APPS_EXTENSION);
    const json_t *types = json_object_get(ui, "mimeTypes");
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *type = json_string_value(json_array_get(types, i));
        if (type && strcmp(type, REF_APP_MIME) == 0)
            return true;
    }
    return false;
}

/* The reference server's text, which is also what a host without the view shows; the result's
 * _meta repeats the tool's, as the reference server's does. */
void ref_tool_apps_hello_world(struct mcp_call *c, const json_t *args)
{
    ref_answer(c, json_pack("{s:[{s:s,s:s}],s:o}", "content", "type", "text", "text",
                            "Hello World MCP App loaded!", "_meta", json_literal(REF_APP_META)));
}

/* The view. A host loads it into a sandboxed iframe; everything it shows arrives by
 * postMessage, and is written with textContent, never as markup. */
static const char APP_HTML[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Hello World MCP App</title>\n"
    "<style>\n"
    "body { font-family: var(--font-sans, system-ui, sans-serif); margin: 0; padding: 12px;\n"
    "  color: var(--color-text-primary, #1a1a1a);\n"
    "  background: var(--color-background-primary, #fff); }\n"
    "h1 { font-size: 1.1em; margin: 0 0 8px; }\n"
    "h2 { font-size: 0.9em; margin: 12px 0 4px; }\n"
    "pre { margin: 0; padding: 6px; white-space: pre-wrap; overflow-wrap: anywhere;\n"
    "  background: var(--color-background-secondary, #f2f2f2);\n"
    "  font-family: var(--font-mono, monospace); }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>Hello World MCP App</h1>\n"
    "<p id=\"status\">Connecting to the host...</p>\n"
    "<h2>Tool input</h2>\n"
    "<pre id=\"tool-input\">(not received yet)</pre>\n"
    "<h2>Tool result</h2>\n"
    "<pre id=\"tool-result\">(not received yet)</pre>\n"
    "<h2>Ask the host to call <code>echo</code></h2>\n"
    "<input id=\"message\" value=\"Hello from the app\" aria-label=\"Message to echo\">\n"
    "<button id=\"call-echo\" disabled>Call echo</button>\n"
    "<pre id=\"echo-answer\"></pre>\n"
    "<script>\n"
    "(function () {\n"
    "  \"use strict\";\n"
    "  /* The view speaks JSON-RPC with its host over postMessage: ui/initialize first, then\n"
    "     ui/notifications/initialized; only then may the host push the tool's input and\n"
    "     result. */\n"
    "  var host = window.parent;\n"
    "  var nextId = 1;\n"
    "  var pending = {};\n"
    "\n"
    "  function el(id) { return document.getElementById(id); }\n"
    "  /* textContent only: tool input and results are data, never markup. */\n"
    "  function show(id, value) {\n"
    "    var text = typeof value === \"string\" ? value : JSON.stringify(value, null, 2);\n"
    "    el(id).textContent = text;\n"
    "  }\n"
    "  function send(message) {\n"
    "    message.jsonrpc = \"2.0\";\n"
    "    host.postMessage(message, \"*\");\n"
    "  }\n"
    "  function request(method, params) {\n"
    "    var id = nextId++;\n"
    "    return new Promise(function (resolve, reject) {\n"
    "      pending[id] = { resolve: resolve, reject: reject };\n"
    "      send({ id: id, method: method, params: params });\n"
    "    });\n"
    "  }\n"
    "  function notify(method, params) { send({ method: method, params: params }); }\n"
    "\n"
    "  function firstText(result) {\n"
    "    var content = (result && result.content) || [];\n"
    "    for (var i = 0; i < content.length; i++)\n"
    "      if (content[i] && content[i].type === \"text\") return content[i].text;\n"
    "    return result;\n"
    "  }\n"
    "  function applyContext(context) {\n"
    "    var root = document.documentElement;\n"
    "    if (context.theme === \"light\" || context.theme === \"dark\")\n"
    "      root.style.colorScheme = context.theme;\n"
    "    var vars = (context.styles && context.styles.variables) || {};\n"
    "    Object.keys(vars).forEach(function (name) {\n"
    "      if (name.indexOf(\"--\") === 0 && typeof vars[name] === \"string\")\n"
    "        root.style.setProperty(name, vars[name]);\n"
    "    });\n"
    "  }\n"
    "  function reportSize() {\n"
    "    var root = document.documentElement;\n"
    "    notify(\"ui/notifications/size-changed\",\n"
    "           { width: root.scrollWidth, height: root.scrollHeight });\n"
    "  }\n"
    "\n"
    "  /* Requests from the host: teardown and ping are answered, nothing else exists here. */\n"
    "  function onHostRequest(m) {\n"
    "    if (m.method === \"ui/resource-teardown\" || m.method === \"ping\")\n"
    "      send({ id: m.id, result: {} });\n"
    "    else\n"
    "      send({ id: m.id, error: { code: -32601, message: \"Method not found\" } });\n"
    "  }\n"
    "  function onNotification(m) {\n"
    "    var p = m.params || {};\n"
    "    var ui = \"ui/notifications/\";\n"
    "    if (m.method === ui + \"tool-input\" || m.method === ui + \"tool-input-partial\")\n"
    "      show(\"tool-input\", p.arguments || {});\n"
    "    else if (m.method === ui + \"tool-result\")\n"
    "      show(\"tool-result\", p);\n"
    "    else if (m.method === ui + \"tool-cancelled\")\n"
    "      show(\"tool-result\", \"Cancelled: \" + (p.reason || \"\"));\n"
    "    else if (m.method === ui + \"host-context-changed\")\n"
    "      applyContext(p);\n"
    "  }\n"
    "  function onResponse(m) {\n"
    "    var waiter = pending[m.id];\n"
    "    if (!waiter) return;\n"
    "    delete pending[m.id];\n"
    "    if (m.error) waiter.reject(new Error(m.error.message || \"error \" + m.error.code));\n"
    "    else waiter.resolve(m.result);\n"
    "  }\n"
    "\n"
    "  /* Only the host (or the sandbox proxy standing in for it) is listened to. */\n"
    "  window.addEventListener(\"message\", function (event) {\n"
    "    var m = event.data;\n"
    "    if (event.source !== host || !m || typeof m !== \"object\" || m.jsonrpc !== \"2.0\")\n"
    "      return;\n"
    "    if (m.method === undefined) onResponse(m);\n"
    "    else if (m.id !== undefined) onHostRequest(m);\n"
    "    else onNotification(m);\n"
    "  });\n"
    "\n"
    "  el(\"call-echo\").addEventListener(\"click\", function () {\n"
    "    show(\"echo-answer\", \"Calling echo...\");\n"
    "    var args = { message: el(\"message\").value };\n"
    "    request(\"tools/call\", { name: \"echo\", arguments: args }).then(\n"
    "      function (result) { show(\"echo-answer\", firstText(result)); },\n"
    "      function (error) { show(\"echo-answer\", \"Error: \" + error.message); });\n"
    "  });\n"
    "\n"
    "  request(\"ui/initialize\", {\n"
    "    protocolVersion: \"2026-01-26\",\n"
    "    appInfo: { name: \"mcpd-hello-world\", version: \"1.0.0\" },\n"
    "    appCapabilities: { availableDisplayModes: [\"inline\"] }\n"
    "  }).then(function (result) {\n"
    "    var info = result.hostInfo || {};\n"
    "    show(\"status\", \"Connected to \" + (info.name || \"the host\") +\n"
    "         \" (protocol \" + result.protocolVersion + \")\");\n"
    "    applyContext(result.hostContext || {});\n"
    "    notify(\"ui/notifications/initialized\", {});\n"
    "    el(\"call-echo\").disabled = false;\n"
    "    if (typeof ResizeObserver === \"function\")\n"
    "      new ResizeObserver(reportSize).observe(document.body);\n"
    "    reportSize();\n"
    "  }, function (error) {\n"
    "    show(\"status\", \"The host refused ui/initialize: \" + error.message);\n"
    "  });\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

bool ref_apps_resource_read(struct mcp_call *c, const char *uri)
{
    if (strcmp(uri, REF_APP_URI) != 0)
        return false;
    ref_answer(c, json_pack("{s:[{s:s,s:s,s:s}]}", "contents", "uri", REF_APP_URI, "mimeType",
                            REF_APP_MIME, "text", APP_HTML));
    return true;
}

const char *ref_apps_html(void)
{
    return APP_HTML;
}
