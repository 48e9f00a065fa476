#!/usr/bin/env python3
"""An MCP endpoint that answers some tools/call echo requests wrongly, so the bench-smoke layer
can show that mcpbench counts every wrong answer, also once it has learned the shape of a right
one and checks by comparing bytes (bench/mcp.c). Three answers in ten are wrong, each in a way
the comparison must catch: a changed digit in the text (the same length), another id, an extra
member. GET /count reports how many wrong answers went out.

usage: wrong-answers.py PORT_FILE   (binds 127.0.0.1 on a free port and writes it to PORT_FILE)
"""
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WRONG = {"sent": 0}
WRONG_LOCK = threading.Lock()  # one thread per connection


def echo_answer(req_id, message):
    """The answer mcpd gives in the session era, wrong for ids ending in 3, 6 and 9."""
    text = "Echo: " + message
    result = {"content": [{"type": "text", "text": text}]}
    answer_id = req_id
    kind = req_id % 10
    if kind == 3:  # the same length, one digit changed
        last = text[-1]
        result["content"][0]["text"] = text[:-1] + ("1" if last != "1" else "2")
    elif kind == 6:  # the answer to another request
        answer_id = req_id + 10
    elif kind == 9:  # a tool error
        result["isError"] = True
    if kind in (3, 6, 9):
        with WRONG_LOCK:
            WRONG["sent"] += 1
    return {"result": result, "jsonrpc": "2.0", "id": answer_id}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as mcpbench expects

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=()):
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/count":
            with WRONG_LOCK:
                self.reply(200, {"wrong": WRONG["sent"]})
        else:
            self.reply(404, {"error": "not found"})

    def do_DELETE(self):
        self.reply(200)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        msg = json.loads(self.rfile.read(length))
        method = msg.get("method")
        if "id" not in msg:
            self.reply(202)
        elif method == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "wrong-answers", "version": "1"}}
            self.reply(200, {"result": result, "jsonrpc": "2.0", "id": msg["id"]},
                       [("Mcp-Session-Id", str(uuid.uuid4()))])
        elif method == "tools/call":
            message = msg["params"]["arguments"]["message"]
            self.reply(200, echo_answer(msg["id"], message))
        else:
            self.reply(200, {"jsonrpc": "2.0", "id": msg["id"],
                             "error": {"code": -32601, "message": "Method not found"}})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w", encoding="ascii") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
