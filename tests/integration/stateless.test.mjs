// The 2026-07-28 revision on /mcp, over raw HTTP (node's fetch): every request carries its
// protocol version, client capabilities and log level in _meta and no session exists. Each error
// path is asserted with its exact HTTP status and JSON-RPC body (the id always echoed), and the
// same endpoint keeps serving an initialize session at the same time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';

const PV = '2026-07-28';
const VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const SERVER_INFO = { name: 'mcp-conformance-test-server', version: '1.0.0' };
const META = {
  'io.modelcontextprotocol/protocolVersion': PV,
  'io.modelcontextprotocol/clientInfo': { name: 'stateless-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};
const MISMATCH_VERSION = 'Header mismatch: MCP-Protocol-Version must be present and equal the request\'s _meta protocol version';
const MISMATCH_METHOD = 'Header mismatch: Mcp-Method must be present and equal the request\'s method';
const MISMATCH_VALUE = 'Header mismatch: a header value does not match the request body';
const MISSING_HEADER = 'Header mismatch: a required header is missing';

let srv;
let sse; // --response-mode sse: every answer is an event stream

before(async () => {
  [srv, sse] = await Promise.all([
    startServer({ name: 'stateless' }),
    startServer({ name: 'stateless-sse', features: 'reference', extraArgs: ['--response-mode', 'sse'] }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([srv?.stop(), sse?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

/** The standard headers a 2026-07-28 client sends for this message. */
function headersFor(msg) {
  const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': PV };
  if (msg.method) h['Mcp-Method'] = msg.method;
  const name = msg.params?.name ?? msg.params?.uri;
  if (typeof name === 'string') h['Mcp-Name'] = name;
  return h;
}

/** POST one message; extra headers override (undefined deletes). Returns status, headers, body
 * (JSON) or events (SSE data lines parsed). */
async function post(url, msg, extra = {}) {
  const h = { ...headersFor(msg), ...extra };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(msg) });
  const text = await res.text();
  const out = { status: res.status, headers: res.headers, text };
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream'))
    out.events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  else if (text) out.body = JSON.parse(text);
  return out;
}

const request = (id, method, params = {}, meta = META) => ({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } });

function assertError(r, status, id, code, message, data) {
  assert.equal(r.status, status, r.text);
  const error = { code, message };
  if (data !== undefined) error.data = data;
  assert.deepEqual(r.body, { jsonrpc: '2.0', id, error });
  assert.equal(r.headers.get('mcp-session-id'), null);
}

describe('2026-07-28 results', () => {
  test('server/discover: every revision, capabilities (listChanged and subscribe: served on subscriptions/listen), identity and caching hints', async () => {
    const r = await post(srv.url, request('d-1', 'server/discover'));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('mcp-session-id'), null);
    assert.deepEqual(r.body, {
      jsonrpc: '2.0', id: 'd-1',
      result: {
        supportedVersions: VERSIONS,
        capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true }, logging: {}, completions: {},
          extensions: { 'io.modelcontextprotocol/tasks': {} } },
        resultType: 'complete',
        _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO },
        ttlMs: 600000, cacheScope: 'public',
      },
    });
  });

  test('tools/list: resultType, serverInfo, ttlMs and cacheScope; the same order every time; the 2026-only fixtures listed', async () => {
    const a = await post(srv.url, request(1, 'tools/list'));
    const b = await post(srv.url, request(2, 'tools/list'));
    assert.equal(a.status, 200);
    const { tools, ...rest } = a.body.result;
    assert.deepEqual(rest, { resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': SERVER_INFO }, ttlMs: 300000, cacheScope: 'public' });
    assert.deepEqual(tools.map((t) => t.name), b.body.result.tools.map((t) => t.name));
    for (const n of ['test_logging_tool', 'test_missing_capability', 'test_custom_header']) assert.ok(tools.some((t) => t.name === n), n);
  });

  test('tools/call: a complete result that is not cacheable (no ttlMs)', async () => {
    const r = await post(srv.url, request(3, 'tools/call', { name: 'test_simple_text', arguments: {} }));
    assert.equal(r.status, 200);
    assert.equal(r.body.result.resultType, 'complete');
    assert.equal(r.body.result.ttlMs, undefined);
    assert.deepEqual(r.body.result._meta, { 'io.modelcontextprotocol/serverInfo': SERVER_INFO });
  });

  test('the decorated answer as sent: the result\'s own members, then resultType, _meta, ttlMs, cacheScope; then jsonrpc, id', async () => {
    const call = await post(srv.url, request('t-1', 'tools/call', { name: 'test_simple_text', arguments: {} }));
    assert.equal(call.text, JSON.stringify(call.body)); // compact, byte for byte as JSON.stringify
    assert.deepEqual(Object.keys(call.body), ['result', 'jsonrpc', 'id']);
    assert.deepEqual(Object.keys(call.body.result), ['content', 'resultType', '_meta']);
    assert.ok(call.text.endsWith(`"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":${JSON.stringify(SERVER_INFO)}}},"jsonrpc":"2.0","id":"t-1"}`), call.text);
    const list = await post(srv.url, request('t-2', 'prompts/list'));
    assert.equal(list.text, JSON.stringify(list.body));
    assert.deepEqual(Object.keys(list.body.result), ['prompts', 'resultType', '_meta', 'ttlMs', 'cacheScope']);
    const streamed = await post(sse.url, request(8, 'tools/call', { name: 'echo', arguments: { message: 'caf\u00e9 "q" \\ \u2028' } }));
    const answer = streamed.events.at(-1);
    assert.deepEqual(Object.keys(answer), ['result', 'jsonrpc', 'id']);
    assert.deepEqual(Object.keys(answer.result), ['content', 'resultType', '_meta']);
    assert.equal(answer.result.content[0].text, 'Echo: caf\u00e9 "q" \\ \u2028');
  });

  test('resources/read and the lists carry caching hints; a missing resource is -32602 with its uri', async () => {
    const read = await post(srv.url, request(4, 'resources/read', { uri: 'test://static-text' }));
    assert.equal(read.body.result.ttlMs, 60000);
    assert.equal(read.body.result.cacheScope, 'public');
    for (const m of ['prompts/list', 'resources/list', 'resources/templates/list']) {
      const r = await post(srv.url, request(5, m));
      assert.equal(r.body.result.ttlMs, 300000, m);
      assert.equal(r.body.result.cacheScope, 'public', m);
    }
    const missing = await post(srv.url, request(6, 'resources/read', { uri: 'test://nope' }));
    assertError(missing, 200, 6, -32602, 'Resource not found: test://nope', { uri: 'test://nope' });
  });

  test('log messages only when _meta asks, filtered by its level', async () => {
    const call = (id, level) => post(srv.url, request(id, 'tools/call', { name: 'test_logging_tool', arguments: {} },
      level ? { ...META, 'io.modelcontextprotocol/logLevel': level } : META));
    const none = await call(7);
    assert.equal(none.headers.get('content-type'), 'application/json');
    assert.equal(none.body.result.content[0].text, 'Tool with logging executed successfully');
    const info = await call(8, 'info');
    assert.equal(info.headers.get('content-type'), 'text/event-stream');
    assert.deepEqual(info.events.slice(0, -1).map((e) => [e.method, e.params.level]),
      [['notifications/message', 'info'], ['notifications/message', 'info'], ['notifications/message', 'info']]);
    assert.equal(info.events.at(-1).id, 8);
    assert.equal(info.text.includes('id:'), false); // no event ids: nothing to resume in this revision
    const error = await call(9, 'error');
    assert.equal(error.body.result.content[0].text, 'Tool with logging executed successfully');
  });

  test('a missing client capability is -32021 with HTTP 400', async () => {
    const r = await post(srv.url, request(10, 'tools/call', { name: 'test_missing_capability', arguments: {} }));
    assertError(r, 400, 10, -32021, 'Missing required client capability: sampling', { requiredCapabilities: { sampling: {} } });
  });

  test('x-mcp-header: Mcp-Param-Region must mirror the argument (Base64 sentinel decoded)', async () => {
    const msg = request(11, 'tools/call', { name: 'test_custom_header', arguments: { region: 'us-west1' } });
    const plain = await post(srv.url, msg, { 'Mcp-Param-Region': 'us-west1' });
    assert.equal(plain.body.result.content[0].text, 'region=us-west1');
    const b64 = await post(srv.url, msg, { 'Mcp-Param-Region': `=?base64?${Buffer.from('us-west1').toString('base64')}?=` });
    assert.equal(b64.body.result.content[0].text, 'region=us-west1');
    assertError(await post(srv.url, msg), 400, 11, -32020, MISSING_HEADER);
    assertError(await post(srv.url, msg, { 'Mcp-Param-Region': 'eu-west1' }), 400, 11, -32020, MISMATCH_VALUE);
    assertError(await post(srv.url, msg, { 'Mcp-Param-Region': '=?base64?dXMtd2VzdDE?=' }), 400, 11, -32020,
      'Header mismatch: a header value is malformed (invalid characters or Base64)');
  });

  test('--response-mode sse: answers are event streams without ids; reference pack echo', async () => {
    const r = await post(sse.url, request(12, 'tools/call', { name: 'echo', arguments: { message: 'hi' } }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    assert.equal(r.text.includes('id:'), false);
    assert.equal(r.events.length, 1);
    assert.equal(r.events[0].result.content[0].text, 'Echo: hi');
    assert.equal(r.events[0].result.resultType, 'complete');
  });
});

describe('2026-07-28 errors', () => {
  test('unsupported version: -32022 with supported and requested, HTTP 400', async () => {
    const meta = { ...META, 'io.modelcontextprotocol/protocolVersion': '1999-01-01' };
    const r = await post(srv.url, request(20, 'tools/list', {}, meta), { 'MCP-Protocol-Version': '1999-01-01' });
    assertError(r, 400, 20, -32022, 'Unsupported protocol version (the session revisions start with initialize)',
      { supported: VERSIONS, requested: '1999-01-01' });
  });

  test('MCP-Protocol-Version differing from _meta, or missing: -32020', async () => {
    assertError(await post(srv.url, request(21, 'tools/list'), { 'MCP-Protocol-Version': '2025-11-25' }), 400, 21, -32020, MISMATCH_VERSION);
    assertError(await post(srv.url, request(22, 'tools/list'), { 'MCP-Protocol-Version': undefined }), 400, 22, -32020, MISMATCH_VERSION);
  });

  test('Mcp-Method missing or different (values are case-sensitive); Mcp-Name missing or different: -32020', async () => {
    assertError(await post(srv.url, request(23, 'tools/list'), { 'Mcp-Method': undefined }), 400, 23, -32020, MISMATCH_METHOD);
    assertError(await post(srv.url, request(24, 'tools/list'), { 'Mcp-Method': 'TOOLS/LIST' }), 400, 24, -32020, MISMATCH_METHOD);
    const call = request(25, 'tools/call', { name: 'test_simple_text', arguments: {} });
    assertError(await post(srv.url, call, { 'Mcp-Name': undefined }), 400, 25, -32020, MISSING_HEADER);
    assertError(await post(srv.url, call, { 'Mcp-Name': 'other' }), 400, 25, -32020, MISMATCH_VALUE);
    const spaced = await post(srv.url, call, { 'Mcp-Name': '  test_simple_text  ' });
    assert.equal(spaced.status, 200, spaced.text);
  });

  test('_meta without protocolVersion or clientCapabilities, a bad log level, oversized capabilities: -32602, HTTP 400', async () => {
    const why = 'Invalid params: _meta must carry io.modelcontextprotocol/protocolVersion (a string) and io.modelcontextprotocol/clientCapabilities (an object)';
    assertError(await post(srv.url, { jsonrpc: '2.0', id: 26, method: 'server/discover', params: {} }), 400, 26, -32602, why);
    const noCaps = { ...META };
    delete noCaps['io.modelcontextprotocol/clientCapabilities'];
    assertError(await post(srv.url, request(27, 'server/discover', {}, noCaps)), 400, 27, -32602, why);
    assertError(await post(srv.url, request(28, 'server/discover', {}, { ...META, 'io.modelcontextprotocol/logLevel': 'loud' })),
      400, 28, -32602, 'Invalid params: io.modelcontextprotocol/logLevel must be a log level');
    const huge = { ...META, 'io.modelcontextprotocol/clientCapabilities': { experimental: { blob: 'x'.repeat(512 * 1024) } } };
    assertError(await post(srv.url, request(29, 'server/discover', {}, huge)), 400, 29, -32602,
      'Invalid params: capabilities larger than the server allows (MAX_CAPABILITIES_BYTES)');
  });

  test('methods this revision removed, and unknown ones: 404 -32601', async () => {
    for (const m of ['ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe', 'initialize', 'no/such'])
      assertError(await post(srv.url, request(`m-${m}`, m, m.startsWith('resources/') ? { uri: 'test://static-text' } : {})),
        404, `m-${m}`, -32601, 'Method not found');
  });

  test('a batch, a response, an oversized id; a notification is accepted', async () => {
    const batch = [request(30, 'tools/list'), request(31, 'tools/list')];
    const res = await fetch(srv.url, { method: 'POST', headers: headersFor({ method: 'tools/list' }), body: JSON.stringify(batch) });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: protocol version 2026-07-28 allows no batches' } });
    const reply = await post(srv.url, { jsonrpc: '2.0', id: 32, result: {} }, { 'MCP-Protocol-Version': PV });
    assertError(reply, 400, 32, -32600, 'Invalid Request: a 2026-07-28 client sends no responses');
    const big = await post(srv.url, request('x'.repeat(5000), 'tools/list'));
    assertError(big, 400, null, -32600, 'Invalid Request: id longer than the server allows (MAX_ID_BYTES)');
    const note = await post(srv.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: META } });
    assert.equal(note.status, 202);
    assert.equal(note.text, '');
  });

  test('GET and DELETE from a 2026-07-28 client: 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(srv.url, { method, headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': PV } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'GET, POST, DELETE');
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32600,
        message: 'Method not allowed: protocol version 2026-07-28 has no session and no GET stream; send each request as a POST' } });
    }
  });
});

describe('shutdown', () => {
  test('a waiting 2026-07-28 call is answered -32603 "Server shutting down" when the grace ends; mcpd exits 0', async () => {
    const s = await startServer({ name: 'stateless-shutdown', features: 'reference', extraArgs: ['--shutdown-grace-ms', '300'] });
    const pending = post(s.url, request(40, 'tools/call', { name: 'longRunningOperation', arguments: { duration: 30, steps: 3 } }));
    await new Promise((r) => setTimeout(r, 300)); // the call is waiting on its first step
    await s.stop(); // SIGTERM, exit 0 and no sanitizer report
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: 40, error: { code: -32603, message: 'Server shutting down' } });
  });
});

describe('cancellation', () => {
  test('a client that closes its connection cancels its 2026-07-28 call: the call ends at once and is counted cancelled', async () => {
    const s = await startServer({ name: 'stateless-disconnect', features: 'reference' });
    try {
      const health = async () => (await fetch(new URL('/health', s.url))).json();
      const cancelled = async () => Number(/^mcpd_mcp_calls_total\{[^}]*method="tools\/call"[^}]*outcome="cancelled"[^}]*\} (\d+)$/m
        .exec(await (await fetch(new URL('/metrics', s.url))).text())?.[1] ?? 0);
      const msg = request(41, 'tools/call', { name: 'longRunningOperation', arguments: { duration: 60, steps: 2 } });
      const ac = new AbortController();
      const pending = fetch(s.url, { method: 'POST', headers: headersFor(msg), body: JSON.stringify(msg), signal: ac.signal })
        .then((res) => res.text()).catch((e) => e.name);
      let h;
      for (let i = 0; i < 100 && (h = await health()).callsInFlight !== 1; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.callsInFlight, 1, 'the call is running');
      ac.abort();
      assert.equal(await pending, 'AbortError');
      // Far sooner than the 60 s the call would run: it ends with its connection.
      for (let i = 0; i < 100 && (h = await health()).callsInFlight !== 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.callsInFlight, 0, 'the call ended with its connection');
      assert.equal(await cancelled(), 1);
    } finally {
      await s.stop();
    }
  });
});

describe('both eras on one endpoint', () => {
  const legacy = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

  async function initialize() {
    const res = await fetch(srv.url, { method: 'POST', headers: legacy, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'legacy', version: '1' } } }) });
    assert.equal(res.status, 200);
    await res.text();
    return res.headers.get('mcp-session-id');
  }

  test('an initialize session and stateless requests interleaved; the session is unaffected', async () => {
    const sid = await initialize();
    assert.match(sid, /^[0-9a-f-]{36}$/);
    const h = { ...legacy, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const [a, b, c] = await Promise.all([
      fetch(srv.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) }).then((r) => r.json()),
      post(srv.url, request(2, 'tools/list')),
      fetch(srv.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'test://nope' } }) }).then((r) => r.json()),
    ]);
    assert.deepEqual(a, { jsonrpc: '2.0', id: 1, result: {} });
    assert.equal(b.body.result.resultType, 'complete');
    assert.equal(c.error.code, -32002); // the session revision keeps its code
    assert.equal(c.result, undefined);
    const legacyList = await fetch(srv.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }) }).then((r) => r.json());
    assert.equal(legacyList.result.resultType, undefined);
    assert.equal(legacyList.result.tools.some((t) => t.name === 'test_custom_header'), false);
    const del = await fetch(srv.url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } });
    assert.equal(del.status, 200);
  });

  test('a session id beside 2026-07-28 _meta is ignored: served statelessly, no session id echoed', async () => {
    const r = await post(srv.url, request(5, 'server/discover'), { 'Mcp-Session-Id': 'not-a-session' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('mcp-session-id'), null);
    assert.deepEqual(r.body.result.supportedVersions, VERSIONS);
  });

  test('a request with neither a session nor 2026-07-28 _meta still gets the session era\'s 400', async () => {
    const res = await fetch(srv.url, { method: 'POST', headers: legacy, body: JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/list' }) });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Bad Request: Mcp-Session-Id header is required' } });
  });
});
