// The hostile-input table (run by run.mjs). One case: name, area (http, jsonrpc, oauth, streams),
// target (the listener: "mcp" = the MCP role of `mcpd all` with authorization on, "as" = its
// authorization server, "noauth" = `mcpd mcp --no-auth`), the request, and expect.
//
// The request is either `raw` (the exact bytes, as a latin1 string or a Buffer) or built:
// method, path, headers (null leaves a default header out), body (an object is sent as JSON);
// `rpc: <body>` is a JSON-RPC POST to /mcp with Content-Type, Accept and MCP-Protocol-Version
// 2025-06-18; `form: {…}` an x-www-form-urlencoded POST; `session: true` adds the live session's
// Mcp-Session-Id; on target "mcp" the bearer token is sent unless `auth: false`. Built requests
// carry `Host` and `Connection: close`. Placeholders filled in by the runner: {HOST} (the
// target's host:port), {TOKEN}, {REFRESH}, {SID} (session of the "mcp" target), {NSID} (session
// of "noauth"), {NSID0326} (a session of "noauth" on 2025-03-26), {CLIENT_ID}, {CLIENT_SECRET} (the client the token was obtained with),
// {REDIRECT} (its registered redirect URI), {MCP_ORIGIN}, {AS_ORIGIN}.
//
// expect: status (a number; 'closed' = the connection closed without an answer); body (a string:
// the exact bytes; an object: the exact JSON, or for SSE the JSON of the data: lines); json (the
// fields that must be equal, for answers that carry a random part); match / noMatch (RegExp on
// the body); headers ({name: exact string | RegExp | null = absent}); closed (the server closes
// the connection after answering, nothing after the answer unless the case is `pipelined`); check(res) → what is wrong, or null.
// `stream: true`: the answer may be an SSE stream that stays open; the runner judges what came
// within 300 ms. Every case is followed by GET /health on its listener, which must answer 200.

const rpcErr = (code, message, id = null) => ({ jsonrpc: '2.0', id, error: { code, message } });
const httpErr = (error, description) => ({ error, error_description: description });
const NO_SESSION = rpcErr(-32001, 'Session not found');
const SESSION_REQUIRED = rpcErr(-32000, 'Bad Request: Mcp-Session-Id header is required');
const BAD_EVENT_ID = rpcErr(-32000, 'Bad Request: Last-Event-ID is not an event id of this server');
const UNKNOWN_STREAM = rpcErr(-32000, 'Bad Request: Last-Event-ID names no stream of this session');
const bad = (desc) => httpErr('bad_request', desc);
const A = (n, ch = 'a') => ch.repeat(n);

/** A raw request to /health with the given extra header lines (CRLF added). */
const rawHealth = (...lines) => `GET /health HTTP/1.1\r\nHost: {HOST}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
/** A raw POST to /mcp (noauth, live session) with the given framing lines and body bytes. */
const rawPost = (lines, body) => `POST /mcp HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n` +
  `Accept: application/json, text/event-stream\r\nMcp-Session-Id: {NSID}\r\nMCP-Protocol-Version: 2025-06-18\r\n` +
  `${lines.map((l) => `${l}\r\n`).join('')}\r\n${body}`;
const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';

// ------------------------------------------------------------------------- HTTP framing ----

const http = [
  { name: 'a request line that is not HTTP', target: 'noauth', raw: 'GARBAGE\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid method encountered"}, closed: true } },
  { name: 'HTTP/2.0 in the request line', target: 'noauth', raw: 'GET /health HTTP/2.0\r\nHost: {HOST}\r\n\r\n',
    expect: { status: 505, body: httpErr('http_version_not_supported', 'only HTTP/1.0 and HTTP/1.1 are supported'), closed: true } },
  { name: 'HTTP/1.2 in the request line', target: 'noauth', raw: 'GET /health HTTP/1.2\r\nHost: {HOST}\r\n\r\n',
    expect: { status: 400, body: bad('Invalid HTTP version'), closed: true } },
  { name: 'HTTP/1.1 without Host', target: 'noauth', raw: 'GET /health HTTP/1.1\r\n\r\n',
    expect: { status: 400, body: bad('HTTP/1.1 request without Host'), closed: true } },
  { name: 'HTTP/1.0 without Host is refused by the Host check', target: 'noauth', raw: 'GET /health HTTP/1.0\r\n\r\n', expect: { status: 403, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Forbidden: invalid Host header"}} } },
  { name: 'two Host fields', target: 'noauth', raw: rawHealth('Host: {HOST}'), expect: { status: 400, body: bad('more than one Host'), closed: true } },
  { name: 'two equal Content-Length fields', target: 'noauth', raw: rawPost(['Content-Length: 40', 'Content-Length: 40'], PING),
    expect: { status: 400, body: bad('Duplicate Content-Length'), closed: true } },
  { name: 'two different Content-Length fields', target: 'noauth', raw: rawPost(['Content-Length: 40', 'Content-Length: 2'], PING),
    expect: { status: 400, body: bad('Duplicate Content-Length'), closed: true } },
  { name: 'Content-Length not a number', target: 'noauth', raw: rawPost(['Content-Length: abc'], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid character in Content-Length"}, closed: true } },
  { name: 'Content-Length negative', target: 'noauth', raw: rawPost(['Content-Length: -1'], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid character in Content-Length"}, closed: true } },
  { name: 'Content-Length with a plus sign', target: 'noauth', raw: rawPost(['Content-Length: +40'], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid character in Content-Length"}, closed: true } },
  { name: 'Content-Length empty', target: 'noauth', raw: rawPost(['Content-Length: '], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Empty Content-Length"}, closed: true } },
  { name: 'Content-Length as a list "40, 40"', target: 'noauth', raw: rawPost(['Content-Length: 40, 40'], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid character in Content-Length"}, closed: true } },
  { name: 'Content-Length past 2^64', target: 'noauth', raw: rawPost(['Content-Length: 99999999999999999999999'], PING), expect: { status: 400, body: {"error":"bad_request","error_description":"Content-Length overflow"}, closed: true } },
  { name: 'Content-Length with Transfer-Encoding (CL.TE smuggling)', target: 'noauth',
    raw: rawPost(['Content-Length: 6', 'Transfer-Encoding: chunked'], '0\r\n\r\nGET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n'),
    expect: { status: 400, body: bad("Content-Length can't be present with Transfer-Encoding"), closed: true } },
  { name: 'Transfer-Encoding before Content-Length (TE.CL smuggling)', target: 'noauth',
    raw: rawPost(['Transfer-Encoding: chunked', 'Content-Length: 3'], '8\r\nSMUGGLED\r\n0\r\n\r\n'),
    expect: { status: 400, body: bad("Content-Length can't be present with Transfer-Encoding"), closed: true } },
  { name: 'Transfer-Encoding gzip, chunked', target: 'noauth', raw: rawPost(['Transfer-Encoding: gzip, chunked'], '0\r\n\r\n'),
    expect: { status: 400, body: bad('unsupported Transfer-Encoding'), closed: true } },
  { name: 'Transfer-Encoding identity', target: 'noauth', raw: rawPost(['Transfer-Encoding: identity'], PING),
    expect: { status: 400, body: bad('unsupported Transfer-Encoding'), closed: true } },
  { name: 'Transfer-Encoding chunked twice', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '0\r\n\r\n'),
    expect: { status: 400, body: bad('Invalid `Transfer-Encoding` header value'), closed: true } },
  { name: 'Transfer-Encoding " chunked" with a vertical tab', target: 'noauth', raw: rawPost(['Transfer-Encoding: \x0bchunked'], '0\r\n\r\n'),
    expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'Transfer-Encoding in HTTP/1.0', target: 'noauth', raw: 'POST /mcp HTTP/1.0\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    expect: { status: 400, body: bad('Transfer-Encoding in an HTTP/1.0 request'), closed: true } },
  { name: 'a bad chunk size', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked'], 'zz\r\nabc\r\n0\r\n\r\n'), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid character in chunk size"}, closed: true } },
  { name: 'chunk data longer than its size (no CRLF after the data)', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked'], '2\r\nabcdef\r\n0\r\n\r\n'),
    expect: { status: 400, body: bad('chunk data not followed by CRLF'), closed: true } },
  { name: 'an empty header value is legal', target: 'noauth', raw: rawHealth('X-Empty:', 'X-Blank: ', 'Connection: close'), expect: { status: 200, json: { status: 'healthy' } } },
  { name: 'a chunk size past 2^64', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked'], 'fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n'),
    expect: { status: 400, body: {"error":"bad_request","error_description":"Chunk size overflow"}, closed: true } },
  { name: 'a valid chunked ping is served', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked', 'Connection: close'], `${PING.length.toString(16)}\r\n${PING}\r\n0\r\n\r\n`),
    expect: { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } } },
  { name: 'obsolete line folding', target: 'noauth', raw: rawHealth('X-Folded: a', ' b'),
    expect: { status: 400, body: bad('obsolete line folding in a header field'), closed: true } },
  { name: 'a space inside a field name', target: 'noauth', raw: rawHealth('Content Length: 5'), expect: { status: 400, body: {"error":"bad_request","error_description":"invalid character in a header field name"}, closed: true } },
  { name: 'a space before the colon', target: 'noauth', raw: 'GET /health HTTP/1.1\r\nHost : {HOST}\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"invalid character in a header field name"}, closed: true } },
  { name: 'an empty field name', target: 'noauth', raw: rawHealth(': value'), expect: { status: 400, body: {"error":"bad_request","error_description":"empty header field name"}, closed: true } },
  { name: 'a field without a colon', target: 'noauth', raw: rawHealth('NoColonHere'), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header token"}, closed: true } },
  { name: 'a control character in a header value', target: 'noauth', raw: rawHealth('X-Test: a\x01b'), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'a NUL in a header value', target: 'noauth', raw: rawHealth('X-Test: a\x00b'), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'DEL in a header value', target: 'noauth', raw: rawHealth('X-Test: a\x7fb'), expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'a bare CR inside a header value', target: 'noauth', raw: rawHealth('X-Test: a\rb'), expect: { status: 400, body: {"error":"bad_request","error_description":"Missing expected LF after header value"}, closed: true } },
  { name: 'obs-text (8-bit) in a header value is served', target: 'noauth', raw: rawHealth('X-Test: caf\xe9', 'Connection: close'), expect: { status: 200, json: { status: 'healthy' } } },
  { name: 'a NUL in the request target', target: 'noauth', raw: 'GET /hea\x00lth HTTP/1.1\r\nHost: {HOST}\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid char in url path"}, closed: true } },
  { name: 'a space inside the request target', target: 'noauth', raw: 'GET /hea lth HTTP/1.1\r\nHost: {HOST}\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Expected HTTP/"}, closed: true } },
  { name: 'an unknown method', target: 'noauth', raw: 'FOO /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid method encountered"}, closed: true } },
  { name: 'a lowercase method', target: 'noauth', raw: 'get /health HTTP/1.1\r\nHost: {HOST}\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid method encountered"}, closed: true } },
  { name: 'an HTTP/0.9 request line', target: 'noauth', raw: 'GET /health\r\n\r\n', expect: { status: 505, body: {"error":"http_version_not_supported","error_description":"only HTTP/1.0 and HTTP/1.1 are supported"}, closed: true } },
  { name: 'a request target of 9000 bytes', target: 'noauth', raw: `GET /${A(9000)} HTTP/1.1\r\nHost: {HOST}\r\n\r\n`,
    expect: { status: 414, body: httpErr('uri_too_long', 'request target too long'), closed: true } },
  { name: 'a header section past 16 KiB', target: 'noauth', raw: rawHealth(`X-Big: ${A(17000)}`),
    expect: { status: 431, body: httpErr('request_header_fields_too_large', 'request header section too large'), closed: true } },
  { name: '101 header fields', target: 'noauth', raw: rawHealth(...Array.from({ length: 100 }, (_, i) => `X-H${i}: v`)),
    expect: { status: 431, body: httpErr('request_header_fields_too_large', 'too many header fields'), closed: true } },
  { name: '99 header fields are served', target: 'noauth', raw: rawHealth('Connection: close', ...Array.from({ length: 97 }, (_, i) => `X-H${i}: v`)),
    expect: { status: 200, json: { status: 'healthy' } } },
  { name: 'a 15 KiB header value is served', target: 'noauth', raw: rawHealth('Connection: close', `X-Big: ${A(15000)}`), expect: { status: 200, json: { status: 'healthy' } } },
  { name: 'Content-Length of 5 MiB is refused on the head', target: 'noauth', raw: rawPost(['Content-Length: 5242880'], PING),
    expect: { status: 413, body: httpErr('payload_too_large', 'request body too large'), closed: true } },
  { name: 'chunked trailers past 16 KiB', target: 'noauth', raw: rawPost(['Transfer-Encoding: chunked'], `0\r\nX-Trailer: ${A(17000)}\r\n\r\n`),
    expect: { status: 431, body: {"error":"request_header_fields_too_large","error_description":"request trailer section too large"}, closed: true } },
  { name: 'CONNECT', target: 'noauth', raw: 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', expect: { status: 404, body: {"error":"not_found","error_description":"Cannot CONNECT 127.0.0.1:22"} } },
  { name: 'Upgrade: websocket on /mcp', target: 'noauth',
    raw: 'GET /mcp HTTP/1.1\r\nHost: {HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    expect: { status: 406, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Not Acceptable: Client must accept text/event-stream"}} } },
  { name: 'an absolute-form target naming another host', target: 'noauth', raw: 'GET http://evil.example/health HTTP/1.1\r\nHost: {HOST}\r\n\r\n',
    expect: { status: 404, body: {"error":"not_found","error_description":"Cannot GET http://evil.example/health"} } },
  { name: 'OPTIONS *', target: 'noauth', raw: 'OPTIONS * HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n', expect: { status: 204, body: '' } },
  { name: 'a dot-dot path', target: 'noauth', raw: 'GET /../../etc/passwd HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n', expect: { status: 404, body: {"error":"not_found","error_description":"Cannot GET /../../etc/passwd"}, noMatch: /root:/ } },
  { name: 'a percent-encoded NUL path', target: 'noauth', raw: 'GET /%00 HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n', expect: { status: 404, body: {"error":"not_found","error_description":"Cannot GET /%00"} } },
  { name: 'LF-only line endings', target: 'noauth', raw: 'GET /health HTTP/1.1\nHost: {HOST}\nConnection: close\n\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'a request head sent one byte at a time is served', target: 'noauth', raw: rawHealth('Connection: close', 'X-Slow: yes'),
    chunks: (b) => [...b].map((x) => Buffer.from([x])), delayMs: 1, expect: { status: 200, json: { status: 'healthy' } } },
  { name: 'two pipelined requests are both answered, in order', target: 'noauth',
    raw: 'GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\nGET /nope HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n',
    pipelined: true, expect: { status: 200, body: {"status":"healthy","services":{"mcp":"operational","auth":"disabled","store":"operational"},"storeBackend":"memory","authServerUrl":"http://localhost:3001","version":"0.1.0","liveSessions":0,"callsInFlight":0,"listenStreams":0}, closed: true } },
  { name: 'a framing error after a good pipelined request closes after it', target: 'noauth',
    raw: 'GET /health HTTP/1.1\r\nHost: {HOST}\r\n\r\nGET /health HTTP/1.1\r\n\r\n', pipelined: true, expect: { status: 200, body: {"status":"healthy","services":{"mcp":"operational","auth":"disabled","store":"operational"},"storeBackend":"memory","authServerUrl":"http://localhost:3001","version":"0.1.0","liveSessions":0,"callsInFlight":0,"listenStreams":0}, closed: true } },
  { name: 'HEAD /health has no body', target: 'noauth', raw: 'HEAD /health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n', expect: { status: 200, body: '' } },
  { name: 'TRACE /mcp', target: 'noauth', method: 'TRACE', path: '/mcp', expect: { status: 405, body: rpcErr(-32000, 'Method not allowed'), headers: { Allow: 'GET, POST, DELETE' } } },
  { name: 'Expect: 100-continue on a small POST is answered', target: 'noauth', raw: rawPost(['Expect: 100-continue', `Content-Length: ${PING.length}`, 'Connection: close'], PING),
    expect: { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } } },
  { name: 'foreign Host on the authorization server', target: 'as', path: '/.well-known/oauth-authorization-server', headers: { Host: 'evil.example' },
    expect: { status: 403, body: {"error":"invalid_request","error_description":"Forbidden: invalid Host header"} } },
  { name: 'the AS: a request line that is not HTTP', target: 'as', raw: '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid method encountered"}, closed: true } },
  { name: 'the MCP role: a header section past 16 KiB before the token is looked at', target: 'mcp', raw: `POST /mcp HTTP/1.1\r\nHost: {HOST}\r\nX-Big: ${A(17000)}\r\n\r\n`,
    expect: { status: 431, body: httpErr('request_header_fields_too_large', 'request header section too large'), closed: true } },
];
// The pipelined case: the second answer must follow the first.
http.find((c) => c.name.startsWith('two pipelined')).expect.check = (res) =>
  (/^HTTP\/1\.1 404 /.test(res.extra) ? null : `second answer: want 404 after the 200, got ${JSON.stringify(res.extra.slice(0, 80))}`);
http.find((c) => c.name.startsWith('a framing error after')).expect.check = (res) =>
  (/^HTTP\/1\.1 400 [^]*HTTP\/1\.1 request without Host/.test(res.extra) ? null : `second answer: want 400 without Host, got ${JSON.stringify(res.extra.slice(0, 120))}`);

// ------------------------------------------------------------------------------ JSON-RPC ----

const j = (name, rpc, expect, more = {}) => ({ name, target: 'noauth', session: true, rpc, expect, ...more });
// A 2025-03-26 session: batches are allowed there only.
const B0326 = { session: false, headers: { 'Mcp-Session-Id': '{NSID0326}', 'MCP-Protocol-Version': '2025-03-26' } };
const jsonrpc = [
  j('a body that is not JSON', '{', { status: 400, body: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: "string or '}' expected near end of file at line 1 column 1" } } }),
  j('an empty body', '', { status: 400, body: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: 'unexpected token near end of file at line 1 column 0' } } }),
  j('trailing bytes after the JSON', `${PING}x`, { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"end of file expected near 'x' at line 1 column 41"}} }),
  j('a UTF-8 BOM before the JSON', `\ufeff${PING}`, { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"invalid token near '﻿' at line 1 column 1"}} }),
  j('invalid UTF-8 in a string', Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping\xff"}', 'latin1'), { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"unable to decode byte 0xff near '\"ping' at line 1 column 38"}} }),
  j('20000 nested arrays', A(20000, '['), { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"JSON nested deeper than 64 levels at position 64"}} }),
  j('20000 nested objects', A(20000, '{"a":'), { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"JSON nested deeper than 64 levels at position 320"}} }),
  j('the JSON null (valid JSON, not a request object: -32600, JSON-RPC 2.0 §5.1)', 'null', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} }),
  j('a JSON number (valid JSON, not a request object: -32600, JSON-RPC 2.0 §5.1)', '42', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} }),
  j('a JSON string (valid JSON, not a request object: -32600, JSON-RPC 2.0 §5.1)', '"ping"', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} }),
  j('the JSON true (valid JSON, not a request object: -32600, JSON-RPC 2.0 §5.1)', 'true', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} }),
  j('an empty object', '{}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"jsonrpc must be \"2.0\""}} }),
  j('an empty batch', '[]', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: batches are only allowed in protocol version 2025-03-26"}} }),
  j('no jsonrpc member', '{"id":1,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"jsonrpc must be \"2.0\""}} }),
  j('jsonrpc "1.0"', '{"jsonrpc":"1.0","id":1,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"jsonrpc must be \"2.0\""}} }),
  j('jsonrpc as the number 2.0', '{"jsonrpc":2.0,"id":1,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"jsonrpc must be \"2.0\""}} }),
  j('no method', '{"jsonrpc":"2.0","id":1}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"a message needs a method, or exactly one of result and error"}} }),
  j('method a number', '{"jsonrpc":"2.0","id":1,"method":5}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"method must be a string"}} }),
  j('method null', '{"jsonrpc":"2.0","id":1,"method":null}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"method must be a string"}} }),
  j('method an empty string', '{"jsonrpc":"2.0","id":1,"method":""}', { status: 200, body: rpcErr(-32601, 'Method not found', 1) }),
  j('an unknown JSON-RPC method', '{"jsonrpc":"2.0","id":1,"method":"nope/nope"}', { status: 200, body: rpcErr(-32601, 'Method not found', 1) }),
  j('a method with a NUL escape', '{"jsonrpc":"2.0","id":1,"method":"ping\\u0000x"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"\\u0000 is not allowed without JSON_ALLOW_NUL near '\"ping\\u0000x\"' at line 1 column 46"}} }),
  j('a method name of 100 KiB', `{"jsonrpc":"2.0","id":1,"method":"${A(102400)}"}`, { status: 200, body: rpcErr(-32601, 'Method not found', 1) }),
  j('rpc.* method', '{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}', { status: 200, body: rpcErr(-32601, 'Method not found', 1) }),
  j('id an object', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"id must be a string or an integer"}} }),
  j('id an array', '{"jsonrpc":"2.0","id":[1],"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"id must be a string or an integer"}} }),
  j('id true', '{"jsonrpc":"2.0","id":true,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"id must be a string or an integer"}} }),
  j('id null', '{"jsonrpc":"2.0","id":null,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"id must be a string or an integer"}} }),
  j('id a fraction', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"id must be a string or an integer"}} }),
  j('id 1e400', '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"real number overflow near '1e400' at line 1 column 27"}} }),
  j('id an empty string is answered with it', '{"jsonrpc":"2.0","id":"","method":"ping"}', { status: 200, body: { jsonrpc: '2.0', id: '', result: {} } }),
  j('id with an escaped NUL', '{"jsonrpc":"2.0","id":"a\\u0000b","method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"\\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"' at line 1 column 32"}} }),
  j('id with markup is answered as a string', '{"jsonrpc":"2.0","id":"</script><script>alert(1)</script>","method":"ping"}',
    { status: 200, body: { jsonrpc: '2.0', id: '</script><script>alert(1)</script>', result: {} } }),
  j('id of 300 bytes', `{"jsonrpc":"2.0","id":"${A(300)}","method":"ping"}`,
    { status: 400, body: rpcErr(-32600, 'Invalid Request: id longer than the server allows (MAX_ID_BYTES)') }),
  j('a duplicate id key', '{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"duplicate object key near '\"id\"' at line 1 column 28"}} }),
  j('params a string', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":"x"}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"params must be an object"}} }),
  j('params an array', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"params must be an object"}} }),
  j('params null', '{"jsonrpc":"2.0","id":1,"method":"ping","params":null}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"params must be an object"}} }),
  j('_meta a string', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":"x"}}', { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } }),
  j('progressToken an object', '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":{"a":1}}}}', { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } }),
  j('progressToken of 300 bytes', `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"progressToken":"${A(300)}"}}}`,
    { status: 400, body: rpcErr(-32602, 'Invalid params: progressToken longer than the server allows (MAX_ID_BYTES)') }),
  j('tools/call without a name', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: name must be a string"}} }),
  j('tools/call with a numeric name', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: name must be a string"}} }),
  j('tools/call of an unknown tool', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm -rf /"}}',
    { status: 200, body: rpcErr(-32602, 'Unknown tool: rm -rf /', 1) }),
  j('tools/call echo with arguments a string', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":"x"}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: arguments must be an object"}} }),
  j('tools/call echo without its message', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"string\",\n    \"received\": \"undefined\",\n    \"path\": [\n      \"message\"\n    ],\n    \"message\": \"Required\"\n  }\n]"}} }),
  j('tools/call echo with a numeric message', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":5}}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"string\",\n    \"received\": \"number\",\n    \"path\": [\n      \"message\"\n    ],\n    \"message\": \"Expected string, received number\"\n  }\n]"}} }),
  j('tools/call add with strings', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":"1","b":"2"}}}',
    { status: 200, json: { jsonrpc: '2.0', id: 1, error: { code: -32603, message: /^\[\n {2}\{\n {4}"code": "invalid_type",\n {4}"expected": "number",\n {4}"received": "string",/ } } }),
  j('tools/call add with 1e308 twice', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1e308,"b":1e308}}}', { status: 200, body: {"result":{"content":[{"type":"text","text":"The sum of 1e+308 and 1e+308 is Infinity."}]},"jsonrpc":"2.0","id":1} }),
  // steps <= 0 runs no step and answers at once, as the reference server does (its schema has no
  // minimum, so -1 is valid input, not -32602).
  j('longRunningOperation with negative steps', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"longRunningOperation","arguments":{"duration":1,"steps":-1}}}',
    { status: 200, body: {"result":{"content":[{"type":"text","text":"Long running operation completed. Duration: 1 seconds, Steps: -1."}]},"jsonrpc":"2.0","id":1} }),
  j('longRunningOperation with steps past MAX_TOOL_STEPS', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"longRunningOperation","arguments":{"duration":1,"steps":10001}}}',
    { status: 200, body: rpcErr(-32602, 'Invalid params: steps must be at most 10000 (MAX_TOOL_STEPS)', 1) }),
  j('resources/read without a uri', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: uri must be a string"}} }),
  j('resources/read with a numeric uri', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":1}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: uri must be a string"}} }),
  j('resources/read of file:///etc/passwd', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"Resource not found: file:///etc/passwd","data":{"uri":"file:///etc/passwd"}}} }),
  j('resources/read of resource 0', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://static/resource/0"}}',
    { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Unknown resource: test://static/resource/0"}} }),
  j('resources/read of resource 101', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://static/resource/101"}}',
    { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Unknown resource: test://static/resource/101"}} }),
  j('resources/read of resource 1e3', '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://static/resource/1e3"}}',
    { status: 200, body: {"result":{"contents":[{"uri":"test://static/resource/1","name":"Resource 1","mimeType":"text/plain","text":"Resource 1: This is a plaintext resource"}]},"jsonrpc":"2.0","id":1} }),
  j('resources/subscribe with a uri past MAX_URI_BYTES', `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://${A(2100)}"}}`,
    { status: 200, body: rpcErr(-32602, 'Invalid params: uri longer than the server allows (MAX_URI_BYTES)', 1) }),
  j('resources/list with a garbage cursor', '{"jsonrpc":"2.0","id":1,"method":"resources/list","params":{"cursor":"!!notbase64!!"}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: malformed cursor"}} }),
  j('resources/list with a numeric cursor', '{"jsonrpc":"2.0","id":1,"method":"resources/list","params":{"cursor":5}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: malformed cursor"}} }),
  j('prompts/get of an unknown prompt', '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"nope"}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unknown prompt: nope"}} }),
  j('prompts/get complex_prompt without arguments', '{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"complex_prompt"}}',
    { status: 200, json: { jsonrpc: '2.0', id: 1 }, match: /"text":"This is a complex prompt with arguments: temperature=undefined, style=undefined"/ }),
  j('logging/setLevel to an unknown level', '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: level must be one of debug, info, notice, warning, error, critical, alert, emergency"}} }),
  j('logging/setLevel without a level', '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: level must be one of debug, info, notice, warning, error, critical, alert, emergency"}} }),
  j('completion/complete with an unknown ref type', '{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/x"},"argument":{"name":"a","value":"b"}}}',
    { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: ref.type must be ref/prompt or ref/resource"}} }),
  j('completion/complete without ref', '{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"argument":{"name":"a","value":"b"}}}', { status: 200, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: ref.type must be ref/prompt or ref/resource"}} }),
  j('a notification of an unknown method', '{"jsonrpc":"2.0","method":"notifications/nope"}', { status: 202, body: '' }),
  j('notifications/cancelled for an unknown request', '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"never"}}', { status: 202, body: '' }),
  j('notifications/cancelled with params a number', '{"jsonrpc":"2.0","method":"notifications/cancelled","params":5}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"params must be an object"}} }),
  j('a response nobody asked for', '{"jsonrpc":"2.0","id":"srv-999","result":{}}', { status: 202, body: '' }),
  j('an error response nobody asked for', '{"jsonrpc":"2.0","id":"srv-999","error":{"code":1,"message":"x"}}', { status: 202, body: '' }),
  j('a message with both method and result is an Invalid Request', '{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"a message has a method or a result or error, not both"}} }),
  j('a message with both method and error is an Invalid Request', '{"jsonrpc":"2.0","method":"notifications/x","error":{"code":1,"message":"x"}}', { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"a message has a method or a result or error, not both"}} }),
  j('initialize again on a live session', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
    { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: Server already initialized"}} }),
  j('a batch on 2025-06-18', `[${PING},${PING}]`, { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: batches are only allowed in protocol version 2025-03-26"}} }),
  j('a batch of 101 pings on 2025-03-26', `[${Array(101).fill(PING).join(',')}]`,
    { status: 400, body: rpcErr(-32600, 'Invalid Request: batch has more entries than the server allows (MAX_BATCH_ENTRIES)') },
    B0326),
  j('a batch of garbage entries on 2025-03-26', '[1,"x",null]',
    { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} },
    B0326),
  j('a nested batch on 2025-03-26', `[[${PING}]]`, { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message is not an object"}} }, B0326),
  j('a batch of notifications only on 2025-03-26', '[{"jsonrpc":"2.0","method":"notifications/a"},{"jsonrpc":"2.0","method":"notifications/b"}]', { status: 202, body: '' },
    B0326),
  j('a batch with an initialize on 2025-03-26', '[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}]',
    { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: Server already initialized"}} }, B0326),
  j('Content-Type text/plain', PING, { status: 415, body: rpcErr(-32000, 'Unsupported Media Type: Content-Type must be application/json') }, { headers: { 'Content-Type': 'text/plain' } }),
  j('no Content-Type', PING, { status: 415, body: rpcErr(-32000, 'Unsupported Media Type: Content-Type must be application/json') }, { headers: { 'Content-Type': null } }),
  j('Content-Type application/jsonx is another media type: 415', PING, { status: 415, body: rpcErr(-32000, 'Unsupported Media Type: Content-Type must be application/json') }, { headers: { 'Content-Type': 'application/jsonx' } }),
  j('Content-Type text/plain naming application/json in a parameter: 415', PING, { status: 415, body: rpcErr(-32000, 'Unsupported Media Type: Content-Type must be application/json') }, { headers: { 'Content-Type': 'text/plain; x=application/json' } }),
  j('Content-Type in capitals with a space before the parameter is served', PING, { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } }, { headers: { 'Content-Type': 'Application/JSON ; charset=utf-8' } }),
  j('Content-Type with a charset is served', PING, { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } }, { headers: { 'Content-Type': 'application/json; charset=utf-8' } }),
  j('Accept without text/event-stream', PING, { status: 406, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Not Acceptable: Client must accept both application/json and text/event-stream"}} }, { headers: { Accept: 'application/json' } }),
  j('no Accept', PING, { status: 406, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Not Acceptable: Client must accept both application/json and text/event-stream"}} }, { headers: { Accept: null } }),
  j('MCP-Protocol-Version 1999-01-01', PING, { status: 400,
    body: rpcErr(-32000, 'Bad Request: Unsupported protocol version (supported versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)') },
  { headers: { 'MCP-Protocol-Version': '1999-01-01' } }),
  j('MCP-Protocol-Version of 1000 bytes', PING, { status: 400,
    body: rpcErr(-32000, 'Bad Request: Unsupported protocol version (supported versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)') },
  { headers: { 'MCP-Protocol-Version': A(1000) } }),
  j('no session with a ping', PING, { status: 400, body: SESSION_REQUIRED }, { session: false }),
  j('an unknown session id', PING, { status: 404, body: NO_SESSION }, { session: false, headers: { 'Mcp-Session-Id': 'deadbeef' } }),
  j('a session id of 4000 bytes', PING, { status: 404, body: NO_SESSION }, { session: false, headers: { 'Mcp-Session-Id': A(4000) } }),
  j('a session id with a quote and a backslash', PING, { status: 404, body: NO_SESSION }, { session: false, headers: { 'Mcp-Session-Id': 'a"b\\c' } }),
  j('an empty session id', PING, { status: 404, body: NO_SESSION }, { session: false, headers: { 'Mcp-Session-Id': '' } }),
  j('a session id with a Redis-like wildcard', PING, { status: 404, body: NO_SESSION }, { session: false, headers: { 'Mcp-Session-Id': '*' } }),
  j('initialize with capabilities a string', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":"x","clientInfo":{"name":"x","version":"1"}}}',
    { status: 400, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: protocolVersion must be a string and capabilities an object"}} }, { session: false }),
  j('initialize without params', '{"jsonrpc":"2.0","id":1,"method":"initialize"}', { status: 400, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: protocolVersion must be a string and capabilities an object"}} }, { session: false }),
  j('initialize with protocolVersion a number', '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":2025,"capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
    { status: 400, body: {"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: protocolVersion must be a string and capabilities an object"}} }, { session: false }),
  j('initialize with 70 KiB of capabilities', `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"x":"${A(70000)}"},"clientInfo":{"name":"x","version":"1"}}}`,
    { status: 400, body: rpcErr(-32602, 'Invalid params: capabilities larger than the server allows (MAX_CAPABILITIES_BYTES)', 1) }, { session: false }),
  j('a notification without a session', '{"jsonrpc":"2.0","method":"notifications/initialized"}', { status: 400, body: SESSION_REQUIRED }, { session: false }),
  { name: 'auth on: a ping with a garbage bearer token', target: 'mcp', session: true, rpc: PING, headers: { Authorization: 'Bearer garbage' },
    expect: { status: 401, body: httpErr('invalid_token', 'Token is not active') } },
  { name: 'auth on: a Basic authorization', target: 'mcp', session: true, rpc: PING, headers: { Authorization: 'Basic dXNlcjpwYXNz' },
    expect: { status: 401, body: {"error":"invalid_token","error_description":"Invalid Authorization header format, expected 'Bearer TOKEN'"} } },
  { name: 'auth on: "Bearer" with no token', target: 'mcp', session: true, rpc: PING, headers: { Authorization: 'Bearer' }, expect: { status: 401, body: {"error":"invalid_token","error_description":"Invalid Authorization header format, expected 'Bearer TOKEN'"} } },
  { name: 'auth on: a 10 KiB token', target: 'mcp', session: true, rpc: PING, headers: { Authorization: `Bearer ${A(10000)}` }, expect: { status: 401, body: {"error":"invalid_token","error_description":"Token is not active"} } },
  { name: 'auth on: a token with a control character', target: 'mcp', session: true, rpc: PING, headers: { Authorization: 'Bearer ab\x01cd' }, expect: { status: 400, body: {"error":"bad_request","error_description":"Invalid header value char"}, closed: true } },
  { name: 'auth on: two Authorization fields', target: 'mcp', session: true, rpc: PING, headers: { Authorization: 'Bearer {TOKEN}\r\nAuthorization: Bearer garbage' },
    expect: { status: 401, body: {"error":"invalid_token","error_description":"Invalid Authorization header format, expected 'Bearer TOKEN'"} } },
  { name: 'auth on: a parse error with a valid token', target: 'mcp', session: true, rpc: '{', expect: { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"string or '}' expected near end of file at line 1 column 1"}} } },
  { name: 'auth on: a valid ping is served', target: 'mcp', session: true, rpc: PING, expect: { status: 200, body: { jsonrpc: '2.0', id: 1, result: {} } } },
];

// --------------------------------------------------------------------------------- OAuth ----

const REG = (extra) => JSON.stringify({ client_name: 'hostile', redirect_uris: ['{REDIRECT}'], ...extra });
const reg = (name, body, expect, more = {}) => ({ name: `/register: ${name}`, target: 'as', method: 'POST', path: '/register',
  headers: { 'Content-Type': 'application/json' }, body, expect, ...more });
const authz = (name, query, expect) => ({ name: `/authorize: ${name}`, target: 'as', path: `/authorize?${query}`, expect });
const CH = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636's example challenge
const GOOD = `response_type=code&client_id={CLIENT_ID}&redirect_uri=${encodeURIComponent('http://127.0.0.1:53682/callback')}&code_challenge=${CH}&code_challenge_method=S256`;
const tok = (name, form, expect) => ({ name: `/token: ${name}`, target: 'as', path: '/token', form, expect });
const CLIENT = { client_id: '{CLIENT_ID}', client_secret: '{CLIENT_SECRET}' };

const oauth = [
  reg('a body that is not JSON', '{', { status: 400, body: {"error":"invalid_client_metadata","error_description":"the registration request must be a JSON object"} }),
  reg('a JSON array', '[]', { status: 400, body: {"error":"invalid_client_metadata","error_description":"the registration request must be a JSON object"} }),
  reg('an empty body', '', { status: 400, body: {"error":"invalid_client_metadata","error_description":"the registration request must be a JSON object"} }),
  reg('no redirect_uris', '{"client_name":"x"}', { status: 400, body: {"error":"invalid_client_metadata","error_description":"redirect_uris: Required"} }),
  reg('redirect_uris empty', '{"redirect_uris":[]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: must be a non-empty array of URIs"} }),
  reg('redirect_uris a string', '{"redirect_uris":"http://127.0.0.1/cb"}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: must be a non-empty array of URIs"} }),
  reg('redirect_uris with a number', '{"redirect_uris":[5]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: each entry must be a URI string"} }),
  reg('a javascript: redirect URI', '{"redirect_uris":["javascript:alert(1)"]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: redirect_uri scheme is not allowed"} }),
  reg('a data: redirect URI', '{"redirect_uris":["data:text/html,<script>alert(1)</script>"]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: redirect_uri scheme is not allowed"} }),
  reg('a relative redirect URI', '{"redirect_uris":["/callback"]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: redirect_uri must be an absolute URI"} }),
  reg('a redirect URI with a fragment', '{"redirect_uris":["http://127.0.0.1/cb#frag"]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: redirect_uri must not contain a fragment"} }),
  reg('a redirect URI with a NUL escape', '{"redirect_uris":["http://127.0.0.1/cb\\u0000x"]}', { status: 400, body: {"error":"invalid_client_metadata","error_description":"the registration request must be a JSON object"} }),
  reg('a redirect URI with a newline', '{"redirect_uris":["http://127.0.0.1/cb\\r\\nSet-Cookie: a=b"]}', { status: 400, body: {"error":"invalid_redirect_uri","error_description":"redirect_uris: redirect_uri must be an absolute URI"} }),
  reg('an unknown token_endpoint_auth_method', REG({ token_endpoint_auth_method: 'magic' }), { status: 400, body: {"error":"invalid_client_metadata","error_description":"token_endpoint_auth_method: must be client_secret_post, client_secret_basic or none"} }),
  reg('grant_types a string', REG({ grant_types: 'authorization_code' }), { status: 400, body: {"error":"invalid_client_metadata","error_description":"grant_types: must include authorization_code, and refresh_token only"} }),
  reg('client_name a number', REG({ client_name: 5 }), { status: 400, body: {"error":"invalid_client_metadata","error_description":"client_name: must be a string"} }),
  reg('a client_name with markup is kept as text', REG({ client_name: '<script>alert(1)</script>' }), { status: 201, json: { client_name: '<script>alert(1)</script>' } }),
  reg('Content-Type text/plain', REG({}), { status: 400, body: {"error":"invalid_client_metadata","error_description":"redirect_uris: Required"} }, { headers: { 'Content-Type': 'text/plain' } }),
  reg('a Content-Length past MAX_REGISTRATION_BYTES, on the head', undefined,
    { status: 413, body: httpErr('invalid_client_metadata', 'Registration request too large'), closed: true },
    { raw: 'POST /register HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n{' }),
  { name: 'GET /register', target: 'as', path: '/register', expect: { status: 405, body: {"error":"method_not_allowed","error_description":"The method GET is not allowed for this endpoint"}, headers: { Allow: 'POST' } } },
  { name: 'PUT /token', target: 'as', method: 'PUT', path: '/token', body: 'x', expect: { status: 405, body: {"error":"method_not_allowed","error_description":"The method PUT is not allowed for this endpoint"}, headers: { Allow: 'POST' } } },
  { name: 'an unknown AS path', target: 'as', path: '/admin', expect: { status: 404, body: {"error":"not_found","error_description":"Cannot GET /admin"} } },

  authz('no parameters', '', { status: 400, body: {"error":"invalid_request","error_description":"client_id is required"} }),
  authz('an unknown client_id', GOOD.replace('{CLIENT_ID}', 'nope'), { status: 400, body: {"error":"invalid_client","error_description":"Invalid client_id"}, body: {"error":"invalid_client","error_description":"Invalid client_id"} }),
  authz('a client_id of 5000 bytes', GOOD.replace('{CLIENT_ID}', A(5000)), { status: 400, body: {"error":"invalid_client","error_description":"Invalid client_id"} }),
  authz('a client_id with markup', GOOD.replace('{CLIENT_ID}', '%3Cscript%3Ealert(1)%3C%2Fscript%3E'), { status: 400, json: { error: 'invalid_client' }, noMatch: /<script>/ }),
  authz('an unregistered redirect_uri', GOOD.replace('53682%2Fcallback', '53682%2Fevil'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('a javascript: redirect_uri', GOOD.replace(/redirect_uri=[^&]*/, 'redirect_uri=javascript%3Aalert(1)'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('the redirect_uri with an extra query', GOOD.replace('53682%2Fcallback', '53682%2Fcallback%3Fx%3D1'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('the redirect_uri with a different port', GOOD.replace('53682', '53683'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('the redirect_uri with a trailing slash', GOOD.replace('callback', 'callback%2F'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('the redirect_uri in upper case', GOOD.replace('callback', 'CALLBACK'), { status: 400, json: { error: 'invalid_request' }, headers: { Location: null } }),
  authz('response_type token', `${GOOD.replace('response_type=code', 'response_type=token')}&state=s1`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=unsupported_response_type&error_description=response_type%20must%20be%20code&state=s1&iss={AS_ISS_Q}", headers: { Location: /^http:\/\/127\.0\.0\.1:53682\/callback\?error=unsupported_response_type&.*state=s1/ } }),
  authz('no code_challenge', `${GOOD.replace(`&code_challenge=${CH}`, '')}&state=s2`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_request&error_description=code_challenge%20is%20missing%20or%20malformed&state=s2&iss={AS_ISS_Q}", headers: { Location: /^http:\/\/127\.0\.0\.1:53682\/callback\?error=invalid_request&.*state=s2/ } }),
  authz('code_challenge_method plain', `${GOOD.replace('S256', 'plain')}&state=s3`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_request&error_description=code_challenge_method%20must%20be%20S256&state=s3&iss={AS_ISS_Q}", headers: { Location: /^http:\/\/127\.0\.0\.1:53682\/callback\?error=invalid_request&.*state=s3/ } }),
  authz('a code_challenge of 20 characters', `${GOOD.replace(CH, A(20))}&state=s4`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_request&error_description=code_challenge%20is%20missing%20or%20malformed&state=s4&iss={AS_ISS_Q}", headers: { Location: /^http:\/\/127\.0\.0\.1:53682\/callback\?error=invalid_request&.*state=s4/ } }),
  authz('an unknown scope', `${GOOD}&scope=admin&state=s5`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_scope&error_description=Unsupported%20scope%20%28supported%3A%20mcp%29&state=s5&iss={AS_ISS_Q}", headers: { Location: /^http:\/\/127\.0\.0\.1:53682\/callback\?error=invalid_scope&.*state=s5/ } }),
  authz('a state with markup is escaped in the consent page', `${GOOD}&state=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E`,
    { status: 200, noMatch: /<script>alert\(1\)<\/script>/ }),
  authz('a state with a CRLF does not split the header', `${GOOD.replace('S256', 'plain')}&state=a%0D%0ASet-Cookie%3A%20x%3Dy`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_request&error_description=code_challenge_method%20must%20be%20S256&state=a%0D%0ASet-Cookie%3A%20x%3Dy&iss={AS_ISS_Q}", headers: { 'Set-Cookie': null, Location: /state=a%0D%0ASet-Cookie/i } }),
  authz('a resource with a fragment', `${GOOD}&resource=${encodeURIComponent('http://127.0.0.1/mcp#x')}&state=s6`,
    { status: 302, body: "Found. Redirecting to http://127.0.0.1:53682/callback?error=invalid_target&error_description=resource%20must%20be%20an%20absolute%20URI%20without%20fragment&state=s6&iss={AS_ISS_Q}", headers: { Location: /error=invalid_(target|request)&.*state=s6/ } }),
  authz('a repeated client_id', `${GOOD}&client_id=other`, { status: 400, body: {"error":"invalid_request","error_description":"Parameters must not be included more than once"} }),
  { name: '/authorize: a POST form with an unknown client', target: 'as', path: '/authorize', form: { response_type: 'code', client_id: 'nope' },
    expect: { status: 400, body: {"error":"invalid_client","error_description":"Invalid client_id"} } },

  tok('no grant_type', { ...CLIENT }, { status: 400, body: {"error":"invalid_request","error_description":"grant_type is required"} }),
  tok('grant_type password', { ...CLIENT, grant_type: 'password', username: 'a', password: 'b' }, { status: 400, body: {"error":"unsupported_grant_type","error_description":"The grant type is not supported by this authorization server."} }),
  tok('grant_type client_credentials', { ...CLIENT, grant_type: 'client_credentials' }, { status: 400, body: {"error":"unsupported_grant_type","error_description":"The grant type is not supported by this authorization server."} }),
  tok('an unknown code', { ...CLIENT, grant_type: 'authorization_code', code: 'nope', redirect_uri: '{REDIRECT}', code_verifier: A(43) },
    { status: 400, body: {"error":"invalid_grant","error_description":"Invalid or expired authorization code"} }),
  tok('no code', { ...CLIENT, grant_type: 'authorization_code', redirect_uri: '{REDIRECT}', code_verifier: A(43) }, { status: 400, body: {"error":"invalid_request","error_description":"code is required"} }),
  tok('no code_verifier', { ...CLIENT, grant_type: 'authorization_code', code: 'nope', redirect_uri: '{REDIRECT}' }, { status: 400, body: {"error":"invalid_request","error_description":"code_verifier is required"} }),
  tok('a code_verifier of 200 characters', { ...CLIENT, grant_type: 'authorization_code', code: 'nope', redirect_uri: '{REDIRECT}', code_verifier: A(200) },
    { status: 400, body: {"error":"invalid_grant","error_description":"Invalid or expired authorization code"} }),
  tok('a wrong client_secret', { client_id: '{CLIENT_ID}', client_secret: 'wrong', grant_type: 'refresh_token', refresh_token: '{REFRESH}' },
    { status: 400, body: {"error":"invalid_client","error_description":"Invalid client_secret"} }),
  tok('no client authentication', { grant_type: 'refresh_token', refresh_token: '{REFRESH}' }, { status: 400, body: {"error":"invalid_request","error_description":"client_id is required"} }),
  tok('an unknown client_id', { client_id: 'nope', client_secret: 'x', grant_type: 'refresh_token', refresh_token: '{REFRESH}' }, { status: 400 }),
  tok('a garbage refresh token', { ...CLIENT, grant_type: 'refresh_token', refresh_token: 'garbage' }, { status: 400, body: {"error":"invalid_grant","error_description":"Invalid or expired refresh token"} }),
  tok('the access token as a refresh token', { ...CLIENT, grant_type: 'refresh_token', refresh_token: '{TOKEN}' }, { status: 400, body: {"error":"invalid_grant","error_description":"Invalid or expired refresh token"} }),
  tok('a repeated grant_type', { ...CLIENT, grant_type: 'refresh_token', 'grant_type ': 'x' }, { status: 400, body: {"error":"invalid_request","error_description":"refresh_token is required"} }),
  { name: '/token: a JSON body is refused (RFC 6749 §3.2: form-encoded only)', target: 'as', method: 'POST', path: '/token', headers: { 'Content-Type': 'application/json' },
    body: '{"grant_type":"refresh_token","refresh_token":"garbage","client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}"}', expect: { status: 400, body: {"error":"invalid_request","error_description":"Content-Type must be application/x-www-form-urlencoded"} } },
  { name: '/token: malformed Basic credentials', target: 'as', path: '/token', form: { grant_type: 'refresh_token', refresh_token: '{REFRESH}' }, headers: { Authorization: 'Basic !!!' },
    expect: { status: 401, body: {"error":"invalid_client","error_description":"Malformed Basic credentials"} } },
  { name: '/token: a form body with a bad percent escape', target: 'as', method: 'POST', path: '/token', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=%zz&client_id=%', expect: { status: 400, body: {"error":"invalid_request","error_description":"Malformed parameter encoding"} } },
  { name: '/token: a form of 70 KiB on the head', target: 'as',
    raw: 'POST /token HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 71680\r\n\r\ngrant_type=x',
    expect: { status: 413, body: {"error":"invalid_request","error_description":"Too many parameters or request too large"}, closed: true } },

  { name: '/revoke: a garbage token', target: 'as', path: '/revoke', form: { ...CLIENT, token: 'garbage' }, expect: { status: 200, body: {} } },
  { name: '/revoke: no token', target: 'as', path: '/revoke', form: { ...CLIENT }, expect: { status: 400, body: {"error":"invalid_request","error_description":"token is required"} } },
  { name: '/revoke: no client authentication', target: 'as', path: '/revoke', form: { token: 'garbage' }, expect: { status: 400, body: {"error":"invalid_request","error_description":"client_id is required"} } },
  { name: '/revoke: a wrong client_secret', target: 'as', path: '/revoke', form: { client_id: '{CLIENT_ID}', client_secret: 'wrong', token: '{TOKEN}' }, expect: { status: 400, body: {"error":"invalid_client","error_description":"Invalid client_secret"} } },
  { name: '/revoke: token_type_hint unknown', target: 'as', path: '/revoke', form: { ...CLIENT, token: 'garbage', token_type_hint: 'weird' }, expect: { status: 200, body: {} } },
  { name: '/introspect: without the shared secret', target: 'as', path: '/introspect', form: { token: '{TOKEN}' }, expect: { status: 401, body: {"error":"invalid_client","error_description":"Introspection requires authentication"} } },
  { name: '/introspect: a wrong bearer secret', target: 'as', path: '/introspect', form: { token: '{TOKEN}' }, headers: { Authorization: 'Bearer wrong' }, expect: { status: 401, body: {"error":"invalid_client","error_description":"Introspection requires authentication"} } },
  { name: '/introspect: the client\'s credentials', target: 'as', path: '/introspect', form: { ...CLIENT, token: '{TOKEN}' }, expect: { status: 401, body: {"error":"invalid_client","error_description":"Introspection requires authentication"} } },

  { name: '/mock-upstream-idp/callback: no state', target: 'as', path: '/mock-upstream-idp/callback?code=x&userId=u', expect: { status: 400, body: {"error":"invalid_request","error_description":"state is required"} } },
  { name: '/mock-upstream-idp/callback: an unknown state', target: 'as', path: '/mock-upstream-idp/callback?state=nope&code=x&userId=u', expect: { status: 400, body: {"error":"invalid_request","error_description":"Unknown or expired authorization request"} } },
  { name: '/mock-upstream-idp/callback: state with markup', target: 'as', path: '/mock-upstream-idp/callback?state=%3Cscript%3Ealert(1)%3C%2Fscript%3E&code=x',
    expect: { status: 400, body: {"error":"invalid_request","error_description":"Unknown or expired authorization request"}, noMatch: /<script>alert/ } },
  { name: '/mock-upstream-idp/authorize: state with markup is escaped', target: 'as', path: '/mock-upstream-idp/authorize?state=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    expect: { status: 200, noMatch: /<script>alert/ } },
  { name: 'a foreign Host on /token', target: 'as', path: '/token', form: { grant_type: 'x' }, headers: { Host: 'evil.example' }, expect: { status: 403, body: {"error":"invalid_request","error_description":"Forbidden: invalid Host header"} } },
  // Client ID Metadata Document URLs aimed at the server's own network (SSRF): refused for the
  // address after resolution, or for their form, never redirected, never fetched.
  ...[
    ['loopback', 'https://127.0.0.1/client.json', "the client_id URL's host resolves to a non-public address"],
    ['localhost', 'https://localhost:1/client.json', "the client_id URL's host resolves to a non-public address"],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data/', "the client_id URL's host resolves to a non-public address"],
    ['an RFC 1918 address', 'https://10.0.0.1/c.json', "the client_id URL's host resolves to a non-public address"],
    ['IPv6 loopback', 'https://[::1]/c.json', "the client_id URL's host resolves to a non-public address"],
    ['an IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/c.json', "the client_id URL's host resolves to a non-public address"],
    ['a decimal loopback', 'https://2130706433/c.json', "the client_id URL's host resolves to a non-public address"],
    ['http', 'http://127.0.0.1/c.json', 'client_id URL must use https'],
    ['no path', 'https://127.0.0.1', 'client_id URL must have a path'],
    ['userinfo', 'https://user:pw@127.0.0.1/c.json', 'client_id URL must not contain user information or a fragment'],
    ['a CRLF', 'https://127.0.0.1/a\r\nX: y', 'client_id URL is not an absolute URL with a host'],
    ['600 bytes', `https://127.0.0.1/${A(600)}`, 'client_id URL is too long'],
  ].map(([what, id, desc]) => ({ name: `/authorize: a metadata document client_id on ${what}`, target: 'as',
    path: `/authorize?response_type=code&client_id=${encodeURIComponent(id)}&code_challenge=${CH}&code_challenge_method=S256&state=s`,
    expect: { status: 400, body: { error: 'invalid_client', error_description: desc }, headers: { Location: null } } })),
  { name: '/token: a metadata document client_id on a private address', target: 'as', path: '/token',
    form: { grant_type: 'authorization_code', client_id: 'https://192.168.0.1/c.json', code: 'x', code_verifier: A(43) },
    expect: { status: 400, body: { error: 'invalid_client', error_description: "the client_id URL's host resolves to a non-public address" } } },
  { name: 'PRM for an unknown resource path', target: 'mcp', auth: false, path: '/.well-known/oauth-protected-resource/evil', expect: { status: 404, body: {"error":"not_found","error_description":"Cannot GET /.well-known/oauth-protected-resource/evil"} } },
];

// ------------------------------------------------------------------------------- streams ----

const g = (name, headers, expect, more = {}) => ({ name, target: 'noauth', session: true, path: '/mcp', headers: { Accept: 'text/event-stream', ...headers }, expect, stream: true, ...more });
const SSE = /^text\/event-stream/;
const streams = [
  g('GET /mcp without a session', {}, { status: 400, body: SESSION_REQUIRED }, { session: false }),
  g('GET /mcp with an unknown session', { 'Mcp-Session-Id': 'nope' }, { status: 404, body: NO_SESSION }, { session: false }),
  g('GET /mcp with a 4000-byte session id', { 'Mcp-Session-Id': A(4000) }, { status: 404, body: NO_SESSION }, { session: false }),
  g('GET /mcp with Accept application/json only', { Accept: 'application/json' }, { status: 406 }),
  g('GET /mcp with no Accept', { Accept: null }, { status: 406 }),
  g('GET /mcp with a bad protocol version', { 'MCP-Protocol-Version': '2020-01-01' }, { status: 400 }),
  g('an empty Last-Event-ID opens a fresh stream', { 'Last-Event-ID': '' }, { status: 200, headers: { 'Content-Type': SSE } }),
  g('Last-Event-ID "abc" is refused', { 'Last-Event-ID': 'abc' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID ":" is refused', { 'Last-Event-ID': ':' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a sequence past 2^64', { 'Last-Event-ID': 'gabc:99999999999999999999999' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a sequence of exactly 2^64', { 'Last-Event-ID': 'gabc:18446744073709551616' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a negative sequence', { 'Last-Event-ID': 'gabc:-5' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a sequence of -1', { 'Last-Event-ID': 'gabc:-1' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a sequence of +5', { 'Last-Event-ID': 'gabc:+5' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a space before the sequence', { 'Last-Event-ID': 'gabc: 5' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a hex sequence', { 'Last-Event-ID': 'gabc:0x5' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID of 8 KiB', { 'Last-Event-ID': `g${A(8000)}:1` }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with path traversal', { 'Last-Event-ID': '../../../etc/passwd:1' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a Redis glob', { 'Last-Event-ID': '*:1' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with a Redis glob in the stream', { 'Last-Event-ID': 'g*:1' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID with non-ASCII bytes', { 'Last-Event-ID': 'g\xe9\xe9:1' }, { status: 400, body: BAD_EVENT_ID }),
  g('Last-Event-ID of an unknown stream', { 'Last-Event-ID': 'gdeadbeef:1' }, { status: 400, body: UNKNOWN_STREAM }),
  g('Last-Event-ID of an unknown POST stream', { 'Last-Event-ID': 'p0000000000000000:3' }, { status: 400, body: UNKNOWN_STREAM }),
  g('Last-Event-ID of an unknown stream at seq 0 (a primed stream with no event yet) opens a stream', { 'Last-Event-ID': 'gdeadbeef:0' }, { status: 200, headers: { 'Content-Type': SSE } }),
  { name: 'DELETE /mcp without a session', target: 'noauth', method: 'DELETE', path: '/mcp', expect: { status: 400, body: SESSION_REQUIRED } },
  { name: 'DELETE /mcp with an unknown session', target: 'noauth', method: 'DELETE', path: '/mcp', headers: { 'Mcp-Session-Id': 'nope' }, expect: { status: 404, body: NO_SESSION } },
  { name: 'DELETE /mcp with a 4000-byte session', target: 'noauth', method: 'DELETE', path: '/mcp', headers: { 'Mcp-Session-Id': A(4000) }, expect: { status: 404, body: NO_SESSION } },
  { name: 'DELETE /mcp with a body', target: 'noauth', method: 'DELETE', path: '/mcp', headers: { 'Mcp-Session-Id': 'nope' }, body: PING, expect: { status: 404, body: NO_SESSION } },
  { name: 'auth on: GET /mcp without a token', target: 'mcp', auth: false, session: true, path: '/mcp', headers: { Accept: 'text/event-stream' },
    expect: { status: 401, body: httpErr('invalid_token', 'Missing Authorization header') } },
  { name: 'auth on: GET /mcp with a garbage token', target: 'mcp', session: true, path: '/mcp', headers: { Accept: 'text/event-stream', Authorization: 'Bearer nope' },
    expect: { status: 401, body: httpErr('invalid_token', 'Token is not active') } },
  { name: 'auth on: GET /mcp with an unknown session', target: 'mcp', path: '/mcp', headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': 'nope' },
    expect: { status: 404, body: NO_SESSION } },
  { name: 'auth on: GET /mcp with the no-auth server\'s session', target: 'mcp', path: '/mcp', headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': '{NSID}' },
    expect: { status: 404, body: NO_SESSION } },
  { name: 'auth on: DELETE without a token', target: 'mcp', auth: false, session: true, method: 'DELETE', path: '/mcp', expect: { status: 401, body: {"error":"invalid_token","error_description":"Missing Authorization header"} } },
  { name: 'auth on: DELETE with an unknown session', target: 'mcp', method: 'DELETE', path: '/mcp', headers: { 'Mcp-Session-Id': 'nope' }, expect: { status: 404, body: NO_SESSION } },
  { name: 'auth on: a valid GET stream with a bad Last-Event-ID', target: 'mcp', session: true, path: '/mcp', headers: { Accept: 'text/event-stream', 'Last-Event-ID': 'zz:zz' },
    expect: { status: 400, body: BAD_EVENT_ID } },
  { name: 'POST /message without sessionId', target: 'noauth', method: 'POST', path: '/message', headers: { 'Content-Type': 'application/json' }, body: PING, expect: { status: 400, body: {"error":"Bad request","error_description":"exactly one sessionId query parameter is required"} } },
  { name: 'POST /message with two sessionIds', target: 'noauth', method: 'POST', path: '/message?sessionId=a&sessionId=b', headers: { 'Content-Type': 'application/json' }, body: PING,
    expect: { status: 400, body: {"error":"Bad request","error_description":"exactly one sessionId query parameter is required"} } },
  { name: 'POST /message with an unknown sessionId', target: 'noauth', method: 'POST', path: '/message?sessionId=nope', headers: { 'Content-Type': 'application/json' }, body: PING,
    expect: { status: 404, body: NO_SESSION } },
  { name: 'POST /message with an empty sessionId', target: 'noauth', method: 'POST', path: '/message?sessionId=', headers: { 'Content-Type': 'application/json' }, body: PING,
    expect: { status: 404, body: NO_SESSION } },
  { name: 'POST /message with a sessionId of 5000 bytes', target: 'noauth', method: 'POST', path: `/message?sessionId=${A(5000)}`, headers: { 'Content-Type': 'application/json' }, body: PING,
    expect: { status: 400, body: {"error":"Bad request","error_description":"exactly one sessionId query parameter is required"} } },
  { name: 'POST /message with a /mcp session id', target: 'noauth', method: 'POST', path: '/message?sessionId={NSID}', headers: { 'Content-Type': 'application/json' }, body: PING,
    expect: { status: 404, body: NO_SESSION } },
  { name: 'POST /message with a parse error', target: 'noauth', method: 'POST', path: '/message?sessionId=nope', headers: { 'Content-Type': 'application/json' }, body: '{',
    expect: { status: 400, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error","data":"string or '}' expected near end of file at line 1 column 1"}} } },
  { name: 'POST /message with text/plain', target: 'noauth', method: 'POST', path: '/message?sessionId=nope', headers: { 'Content-Type': 'text/plain' }, body: PING,
    expect: { status: 400, body: {"error":"Bad request","error_description":"Content-Type must be application/json"} } },
  { name: 'POST /message with application/jsonx', target: 'noauth', method: 'POST', path: '/message?sessionId=nope', headers: { 'Content-Type': 'application/jsonx' }, body: PING,
    expect: { status: 400, body: {"error":"Bad request","error_description":"Content-Type must be application/json"} } },
  { name: 'GET /sse with Accept application/json still streams', target: 'noauth', path: '/sse', headers: { Accept: 'application/json' }, stream: true,
    expect: { status: 200, headers: { 'Content-Type': SSE }, match: /^event: endpoint\ndata: \/message\?sessionId=[0-9a-f-]{36}\n\n$/ } },
  { name: 'GET /sse with a Last-Event-ID of garbage', target: 'noauth', path: '/sse', headers: { Accept: 'text/event-stream', 'Last-Event-ID': '\xff\xfe' }, stream: true,
    expect: { status: 200, headers: { 'Content-Type': SSE }, match: /event: endpoint/ } },
  { name: 'DELETE /sse', target: 'noauth', method: 'DELETE', path: '/sse', expect: { status: 405, body: {"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Method not allowed"}} } },
  { name: 'auth on: GET /sse without a token', target: 'mcp', auth: false, path: '/sse', headers: { Accept: 'text/event-stream' }, expect: { status: 401, body: {"error":"invalid_token","error_description":"Missing Authorization header"} } },
];

// Sequences on the "noauth" session: before() starts what the case's own request meets (a call
// that waits and is cancelled meanwhile, a POST stream still open when the case resumes it).
const mcpUrl = (ctx) => `http://127.0.0.1:${ctx.ports.noauth}/mcp`;
const mcpHeaders = (ctx, version) => ({ 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
  'Mcp-Session-Id': ctx.nsid, 'MCP-Protocol-Version': version });
const longRun = (id, args, progressToken) => ({ jsonrpc: '2.0', id, method: 'tools/call',
  params: { name: 'longRunningOperation', arguments: args, ...(progressToken ? { _meta: { progressToken } } : {}) } });
/** notifications/cancelled for requestId, ms from now (the case's request is sent meanwhile). */
const cancelIn = (ms, requestId) => (ctx) => {
  setTimeout(() => fetch(mcpUrl(ctx), { method: 'POST', headers: mcpHeaders(ctx, '2025-06-18'),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'hostile' } }) }).catch(() => {}), ms);
};
const CANCELLED = (id) => rpcErr(-32603, 'Request cancelled: notifications/cancelled', id);
/** A POST stream (2025-11-25: event ids) with a call in progress, read until its first progress
 * event; the case then resumes it with that id while the POST is still open. */
const held = { lastId: null, end: null };
async function openPostStream(ctx) {
  held.lastId = null;
  held.end = null;
  const res = await fetch(mcpUrl(ctx), { method: 'POST', headers: mcpHeaders(ctx, '2025-11-25'),
    body: JSON.stringify(longRun('hostile-held', { duration: 2, steps: 10 }, 'hostile-held')) });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  let first;
  const got = new Promise((r) => { first = r; });
  (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
        const ids = [...text.matchAll(/^id: (p[0-9a-f]+:\d+)\n(?:event: [^\n]*\n)?data: \{/gm)].map((m) => m[1]);
        if (ids.length && !held.lastId) { held.lastId = ids.at(-1); first(); }
      }
      held.end = 'complete';
    } catch {
      held.end = 'cut';
    }
    first();
  })();
  await got;
}
const resumeHeld = { name: 'GET resuming a POST stream whose POST is still open takes it over: the POST ends, complete', target: 'noauth',
  session: true, path: '/mcp', headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': '2025-11-25' }, stream: true,
  before: async (ctx) => { await openPostStream(ctx); resumeHeld.headers['Last-Event-ID'] = held.lastId ?? 'p0:0'; },
  expect: { status: 200, headers: { 'Content-Type': SSE },
    check: () => (!held.lastId ? 'the POST stream sent no progress event to resume from'
      : held.end === 'complete' ? null : `the open POST was not ended by the takeover (${held.end ?? 'still open'})`) } };
streams.push(
  { name: 'a JSON-framed call cancelled by notifications/cancelled while it waits gets -32603, not an empty body', target: 'noauth',
    session: true, rpc: longRun('hostile-c1', { duration: 3, steps: 3 }), before: cancelIn(200, 'hostile-c1'),
    expect: { status: 200, headers: { 'Content-Type': /^application\/json/ }, body: CANCELLED('hostile-c1') } },
  { name: 'an SSE-framed call (no MCP-Protocol-Version) cancelled while it waits ends its stream with -32603', target: 'noauth',
    session: true, rpc: longRun('hostile-c2', { duration: 3, steps: 3 }), headers: { 'MCP-Protocol-Version': null }, stream: true,
    before: cancelIn(100, 'hostile-c2'), expect: { status: 200, headers: { 'Content-Type': SSE }, body: CANCELLED('hostile-c2') } },
  resumeHeld,
);

const tag = (area, list) => list.map((c) => ({ area, ...c }));
export const CASES = [...tag('http', http), ...tag('jsonrpc', jsonrpc), ...tag('oauth', oauth), ...tag('streams', streams)];
