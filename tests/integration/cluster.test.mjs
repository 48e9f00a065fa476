// Scale-out on Redis: three `mcpd mcp` and two `mcpd auth` on one redis-server behind haproxy
// (lib/cluster.mjs), every request of a session free to land on any instance. Raw HTTP pins
// requests to chosen instances (direct URLs); the official SDK goes through the balancer, which
// spreads one session's requests round robin. Checked: a session initialized on one instance and
// used on the others; the SDK's OAuth login from the 401 and a session through the balancer;
// sampling and elicitation answers POSTed to another instance than the waiting call's;
// notifications/cancelled on another instance; a subscription made on one instance feeding the
// GET stream held by another; a POST stream dropped on one instance resumed on another with
// Last-Event-ID (every remaining event exactly once, in order); DELETE on one instance ending the
// session everywhere; the authorization server's clients, codes, tokens, refresh and revocation
// shared by its instances and honoured by every MCP instance; a SIGKILLed instance (the session
// goes on through the others); the legacy /sse transport with its POSTs on other instances; the
// races of a subscription that takes effect late (one instance's Redis subscription traffic
// delayed); and the official conformance suites against three --no-auth instances through the
// balancer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { INSTANCE_HEADER, startCluster } from './lib/cluster.mjs';
import { Exchange, WAIT_MS, longCall, longResult, within } from './lib/exchange.mjs';
import { HeadlessProvider, REDIRECT_URI, TOOL_NAMES, authorize, clientAuth, idpCallback, login, pkce, postForm, register } from './lib/oauth.mjs';
import { ROOT } from './lib/server.mjs';
import { openLegacySse } from './lib/sse.mjs';

const VERSION = '2025-11-25';
const CACHE_MS = 1000; // --introspection-cache-ms of the MCP instances
const BUILD = path.basename(path.dirname(path.resolve(ROOT, process.env.MCPD_BIN ?? 'build/mcpd')));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ raw MCP helpers ----

/** A session's raw client: headers for POST/GET/DELETE with its token and id. */
function rawClient(token) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const post = (url, sid, msg) => new Exchange(url, { method: 'POST', body: JSON.stringify(msg), headers: {
    'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': VERSION,
    ...auth, ...(sid ? { 'Mcp-Session-Id': sid } : {}) } });
  const getHeaders = (sid, last) => ({ Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': VERSION,
    ...auth, ...(last ? { 'Last-Event-ID': last } : {}) });
  /** POST and await the whole answer; the body (JSON, or the last SSE message) parsed. */
  async function call(url, sid, msg) {
    const x = post(url, sid, msg);
    const res = await within(x.done, WAIT_MS, `POST ${url} ${msg.method ?? 'reply'}`);
    assert.ok(res.complete, `POST ${url} was cut: ${JSON.stringify(res)}`);
    let body = null;
    if (/^application\/json/.test(x.headers['content-type'] ?? '')) body = JSON.parse(x.text);
    else if (x.dataEvents().length) body = x.messages().at(-1);
    return { status: x.status, headers: x.headers, body, x };
  }
  async function open(url, capabilities = {}) {
    const init = await call(url, null, { jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: VERSION, capabilities, clientInfo: { name: 'cluster', version: '1' } } });
    assert.equal(init.status, 200, init.x.text);
    const sid = init.headers['mcp-session-id'];
    assert.match(sid, /^[0-9a-f-]{36}$/);
    return sid;
  }
  const get = (url, sid, last) => new Exchange(url, { headers: getHeaders(sid, last) });
  const del = async (url, sid) => {
    const x = new Exchange(url, { method: 'DELETE', headers: getHeaders(sid) });
    await within(x.done, WAIT_MS, `DELETE ${url}`);
    return { status: x.status, body: x.text ? JSON.parse(x.text) : null };
  };
  return { post, call, open, get, del };
}

const rpcError = (id, code, message) => ({ jsonrpc: '2.0', id, error: { code, message } });
const NOT_FOUND = rpcError(null, -32001, 'Session not found');
const progressOf = (x) => x.messages().filter((m) => m.method === 'notifications/progress');

function eventId(id) {
  const m = /^([pg][0-9a-f]+):(\d+)$/.exec(id ?? '');
  assert.ok(m, `event id ${id} is not {stream}:{seq}`);
  return { stream: m[1], seq: Number(m[2]) };
}

/** Open a GET stream and wait for its priming event. */
async function openGet(raw, url, sid) {
  const g = raw.get(url, sid);
  await g.waitFor((x) => x.events.length >= 1, `the GET stream's priming event on ${url}`);
  assert.equal(g.status, 200, g.text);
  return g;
}

async function assertGone(raw, url, sid) {
  const ping = await raw.call(url, sid, { jsonrpc: '2.0', id: 99, method: 'ping' });
  assert.equal(ping.status, 404, `POST ${url}`);
  assert.deepEqual(ping.body, NOT_FOUND);
  const g = raw.get(url, sid);
  await within(g.done, WAIT_MS, `GET ${url}`);
  assert.equal(g.status, 404, `GET ${url}`);
  assert.deepEqual(JSON.parse(g.text), NOT_FOUND);
  const d = await raw.del(url, sid);
  assert.equal(d.status, 404, `DELETE ${url}`);
  assert.deepEqual(d.body, NOT_FOUND);
}

/**
 * A TCP relay to a loopback port. stall(): the client's side is closed, the upstream connection
 * stays open and whatever the server still writes is read and dropped (swallowed() counts it,
 * swallowedText() is its text).
 */
async function stallRelay(upstreamPort) {
  const pairs = [];
  let stalled = false;
  let swallowed = 0;
  let text = '';
  const srv = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    pairs.push({ down, up });
    down.on('data', (d) => { if (!stalled) up.write(d); });
    up.on('data', (d) => {
      if (stalled) {
        swallowed += d.length;
        text += d.toString('latin1');
      } else down.write(d);
    });
    down.on('error', () => {});
    up.on('error', () => {});
    down.on('close', () => { if (!stalled) up.destroy(); });
    up.on('close', () => down.destroy());
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: srv.address().port,
    stall: () => {
      stalled = true;
      for (const p of pairs) p.down.destroy();
    },
    swallowed: () => swallowed,
    swallowedText: () => text,
    close: () => {
      for (const p of pairs) p.up.destroy();
      srv.close();
    },
  };
}

/** A fetch that notes, for each request, which instance the balancer sent it to. */
function instanceFetch(records) {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    let rpc = '';
    try { rpc = JSON.parse(init.body)?.method ?? 'reply'; } catch { /* not JSON-RPC */ }
    const res = await fetch(input, init);
    records.push({ method: init.method ?? 'GET', path: url.pathname, rpc, status: res.status, instance: res.headers.get(INSTANCE_HEADER) });
    return res;
  };
}

// ------------------------------------------------------------------------ the cluster ----

describe('three MCP and two auth instances on one Redis behind haproxy', () => {
  let c;
  let token;
  let raw;
  let urls; // the MCP instances' direct /mcp URLs

  before(async () => {
    c = await startCluster({ name: 'cluster', mcpArgs: ['--timer-scale-percent', '5', '--introspection-cache-ms', String(CACHE_MS)] });
    ({ tokens: { access_token: token } } = await login(c.asOrigin, { resource: c.mcpUrl }));
    raw = rawClient(token);
    urls = c.mcp.map((m) => m.url);
  });

  after(async () => {
    await c?.stop();
  });

  test('initialize on one instance, every later request of the session on the others', async () => {
    const [a, b, d] = urls;
    const sid = await raw.open(a);
    const note = await raw.call(b, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(note.status, 202);
    const list = await raw.call(d, sid, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.deepEqual(list.body.result.tools.map((t) => t.name), TOOL_NAMES);
    const echo = await raw.call(b, sid, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'on B' } } });
    assert.deepEqual(echo.body, { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'Echo: on B' }] } });
    const long = await raw.call(d, sid, longCall(3, { duration: 0.3, steps: 3 }, 'tok-3'));
    assert.deepEqual(progressOf(long.x).map((m) => m.params.progress), [1, 2, 3]);
    assert.deepEqual(long.body, longResult(3, 0.3, 3));
    const ping = await raw.call(a, sid, { jsonrpc: '2.0', id: 4, method: 'ping' });
    assert.deepEqual(ping.body, { jsonrpc: '2.0', id: 4, result: {} });
    assert.equal((await raw.del(b, sid)).status, 200);
    for (const u of urls) await assertGone(raw, u, sid);
  });

  test('the official SDK through the balancer: OAuth login from the 401, tools, echo, progress, DELETE, spread over the instances', async () => {
    const records = [];
    const fetchFn = instanceFetch(records);
    const provider = new HeadlessProvider({ fetchFn });
    const url = new URL(c.mcpUrl);
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
    await assert.rejects(new Client({ name: 'cluster-sdk', version: '1.0.0' }).connect(first), (e) => e instanceof UnauthorizedError);
    await first.finishAuth(provider.code);
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
    const client = new Client({ name: 'cluster-sdk', version: '1.0.0' });
    await client.connect(transport);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), TOOL_NAMES);
    for (let i = 0; i < 3; i++) {
      const echo = await client.callTool({ name: 'echo', arguments: { message: `hop ${i}` } });
      assert.deepEqual(echo.content, [{ type: 'text', text: `Echo: hop ${i}` }]);
    }
    const progress = [];
    const long = await client.callTool({ name: 'longRunningOperation', arguments: { duration: 0.4, steps: 4 } }, undefined,
      { onprogress: (p) => progress.push(p.progress) });
    assert.deepEqual(long.content, [{ type: 'text', text: 'Long running operation completed. Duration: 0.4 seconds, Steps: 4.' }]);
    assert.deepEqual(progress, [1, 2, 3, 4]);
    const sid = transport.sessionId;
    await transport.terminateSession();
    await client.close();

    // The login went through both authorization servers; the session's requests through all MCP instances.
    const as = new Set(records.filter((r) => ['/register', '/authorize', '/token', '/mock-upstream-idp/callback'].includes(r.path)).map((r) => r.instance));
    assert.ok(as.size >= 2, `auth requests on ${[...as]}`);
    const served = new Set(records.filter((r) => r.path === '/mcp' && r.status < 300).map((r) => r.instance));
    assert.deepEqual([...served].sort(), ['mcp0', 'mcp1', 'mcp2'], JSON.stringify(records));
    assert.deepEqual(records.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`), ['POST /mcp 401']);
    for (const u of urls) await assertGone(raw, u, sid);
  });

  test('a sampling answer POSTed to instance B reaches the tool call waiting on A', async () => {
    for (const [a, b] of [[0, 1], [1, 2], [2, 0]]) {
      const sid = await raw.open(urls[a], { sampling: {} });
      const call = raw.post(urls[a], sid, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'sampleLLM', arguments: { prompt: 'hi', maxTokens: 7 } } });
      await call.waitFor((x) => x.messages().some((m) => m.method === 'sampling/createMessage'), 'the sampling request');
      const req = call.messages().find((m) => m.method === 'sampling/createMessage');
      assert.equal(req.params.maxTokens, 7);
      const reply = await raw.call(urls[b], sid, { jsonrpc: '2.0', id: req.id,
        result: { model: 'm', role: 'assistant', content: { type: 'text', text: `from ${b}` } } });
      assert.equal(reply.status, 202);
      assert.deepEqual(await within(call.done, WAIT_MS, 'the sampled result'), { complete: true });
      assert.deepEqual(call.messages().at(-1), { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: `LLM sampling result: from ${b}` }] } });
      assert.equal((await raw.del(urls[b], sid)).status, 200);
    }
  });

  test('an elicitation answer POSTed to another instance reaches elicitInputs', async () => {
    const sid = await raw.open(urls[2], { elicitation: {} });
    const call = raw.post(urls[2], sid, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'elicitInputs', arguments: {} } });
    await call.waitFor((x) => x.messages().some((m) => m.method === 'elicitation/create'), 'the elicitation request');
    const req = call.messages().find((m) => m.method === 'elicitation/create');
    const answer = { action: 'accept', content: { name: 'Ada' } };
    assert.equal((await raw.call(urls[0], sid, { jsonrpc: '2.0', id: req.id, result: answer })).status, 202);
    assert.deepEqual(await within(call.done, WAIT_MS, 'the elicitation result'), { complete: true });
    assert.deepEqual(call.messages().at(-1).result.content, [{ type: 'text', text: `Elicitation result: ${JSON.stringify(answer, null, 2)}` }]);
    assert.equal((await raw.del(urls[1], sid)).status, 200);
  });

  test('notifications/cancelled sent to another instance stops the call: its stream ends with the -32603 "Request cancelled" error', async () => {
    const sid = await raw.open(urls[0]);
    const call = raw.post(urls[0], sid, longCall(7, { duration: 600, steps: 6000 }, 'tok-7'));
    await call.waitFor((x) => progressOf(x).length >= 1, 'a progress notification');
    const cancel = await raw.call(urls[1], sid, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'test' } });
    assert.equal(cancel.status, 202);
    assert.deepEqual(await within(call.done, WAIT_MS, 'the cancelled stream to end'), { complete: true });
    const msgs = call.messages();
    assert.deepEqual(msgs.at(-1), rpcError(7, -32603, 'Request cancelled: notifications/cancelled'));
    for (const m of msgs.slice(0, -1)) assert.equal(m.method, 'notifications/progress', `unexpected ${JSON.stringify(m)}`);
    assert.equal((await raw.del(urls[2], sid)).status, 200);
  });

  test('a subscription made through A produces notifications/resources/updated on the GET stream held by B; none after unsubscribing through C', async () => {
    const uri = 'test://static/resource/7';
    const sid = await raw.open(urls[0]);
    const g = await openGet(raw, urls[1], sid);
    const sub = await raw.call(urls[0], sid, { jsonrpc: '2.0', id: 8, method: 'resources/subscribe', params: { uri } });
    assert.deepEqual(sub.body, { jsonrpc: '2.0', id: 8, result: {} });
    const updated = (m) => m.method === 'notifications/resources/updated';
    await g.waitFor((x) => x.messages().some(updated), 'notifications/resources/updated on B');
    assert.deepEqual(g.messages().find(updated).params, { uri });
    const unsub = await raw.call(urls[2], sid, { jsonrpc: '2.0', id: 9, method: 'resources/unsubscribe', params: { uri } });
    assert.deepEqual(unsub.body, { jsonrpc: '2.0', id: 9, result: {} });
    // Updates come every 500 ms, stderr lines every 1.5 s: between the first two stderr lines
    // after the unsubscribe (a read of the set issued before it may still land first), none.
    const from = g.messages().length;
    const stderr = (x) => x.messages().slice(from).map((m, i) => [m, i + from]).filter(([m]) => m.method === 'notifications/stderr');
    await g.waitFor((x) => stderr(x).length >= 2, 'two stderr notifications after the unsubscribe');
    const [[, i1], [, i2]] = stderr(g);
    assert.deepEqual(g.messages().slice(i1, i2).filter(updated), []);
    assert.equal((await raw.del(urls[2], sid)).status, 200);
    assert.deepEqual(await within(g.done, WAIT_MS, 'the GET stream to end'), { complete: true });
  });

  test('a POST stream begun on A and dropped resumes on B with Last-Event-ID: the rest exactly once, in order', async () => {
    const rounds = [[0, 1, 20], [1, 2, 5], [2, 0, 1], [0, 2, 1]]; // [A, B, ms per step]
    for (const [r, [a, b, stepMs]] of rounds.entries()) {
      const steps = 40;
      const duration = (steps * stepMs) / 1000;
      const sid = await raw.open(urls[a]);
      const id = 10 + r;
      const call = raw.post(urls[a], sid, longCall(id, { duration, steps }, `tok-${id}`));
      await call.waitFor((x) => progressOf(x).length >= 3, 'three progress notifications');
      call.close();
      const seen = call.dataEvents();
      const last = seen.at(-1).id;
      const { stream, seq } = eventId(last);
      assert.ok(stream.startsWith('p'));
      const resumed = raw.get(urls[b], sid, last);
      assert.deepEqual(await within(resumed.done, WAIT_MS, `the resumed stream on ${b} to end`), { complete: true });
      assert.equal(resumed.status, 200);
      const got = resumed.dataEvents();
      const all = [...call.messages().slice(0, seen.length), ...resumed.messages()];
      const what = `round ${r} (${a}->${b}, ${stepMs} ms): ${JSON.stringify(got.map((e) => e.id))}`;
      assert.deepEqual(got.map((e) => eventId(e.id).seq), got.map((_, i) => seq + 1 + i), `consecutive ids, ${what}`);
      assert.ok(got.every((e) => eventId(e.id).stream === stream), what);
      assert.deepEqual(all.slice(0, -1).map((m) => m.params.progress), Array.from({ length: steps }, (_, i) => i + 1), what);
      assert.deepEqual(all.at(-1), longResult(id, duration, steps));
      assert.equal((await raw.del(urls[b], sid)).status, 200);
    }
  });

  test('a POST stream whose old connection A never saw break (a stalled path) resumes on B: the rest exactly once, up to the result; A ends the old response', async () => {
    // The client reaches A through a TCP relay that, on stall(), closes the client's side but
    // keeps A's connection open and swallows what A writes: A keeps writing the stream there,
    // as it would to a path that died silently, while the client resumes on B.
    const relay = await stallRelay(c.mcp[0].port);
    try {
      const sid = await raw.open(urls[0]);
      const steps = 30;
      const call = raw.post(`http://127.0.0.1:${relay.port}/mcp`, sid, longCall(40, { duration: 1.5, steps }, 'tok-40'));
      await call.waitFor((x) => progressOf(x).length >= 3, 'three progress notifications');
      relay.stall();
      await within(call.done, WAIT_MS, 'the client side to close');
      const seen = call.dataEvents();
      const { stream, seq } = eventId(seen.at(-1).id);
      const resumed = raw.get(urls[1], sid, seen.at(-1).id);
      assert.deepEqual(await within(resumed.done, WAIT_MS, 'the resumed stream on B to end'), { complete: true });
      const got = resumed.dataEvents();
      assert.deepEqual(got.map((e) => eventId(e.id)), got.map((_, i) => ({ stream, seq: seq + 1 + i })));
      const all = [...call.messages(), ...resumed.messages()];
      assert.deepEqual(all.slice(0, -1).map((m) => m.params.progress), Array.from({ length: steps }, (_, i) => i + 1));
      assert.deepEqual(all.at(-1), longResult(40, 1.5, steps));
      assert.ok(relay.swallowed() > 0, 'A kept writing to the stalled connection');
      // Until B's resume took the stream over: A then ended that response (its last chunk)
      // without writing the result there, which went to B alone.
      for (const end = Date.now() + WAIT_MS; !/(^|\r\n)0\r\n\r\n$/.test(relay.swallowedText()) && Date.now() < end;) await sleep(20);
      assert.match(relay.swallowedText(), /(^|\r\n)0\r\n\r\n$/, 'A ended the stalled response');
      assert.doesNotMatch(relay.swallowedText(), /"result"/, 'the result reached B only');
      assert.equal((await raw.del(urls[1], sid)).status, 200);
    } finally {
      relay.close();
    }
  });

  test('DELETE on one instance ends the session everywhere: GET streams on the others end, a call is answered, 404 on every instance', async () => {
    const sid = await raw.open(urls[0]);
    const g1 = await openGet(raw, urls[1], sid);
    const g2 = await openGet(raw, urls[2], sid);
    const call = raw.post(urls[2], sid, longCall(20, { duration: 600, steps: 6000 }, 'tok-20'));
    await call.waitFor((x) => progressOf(x).length >= 1, 'a progress notification');
    assert.equal((await raw.del(urls[0], sid)).status, 200);
    assert.deepEqual(await within(g1.done, WAIT_MS, 'the GET stream on B to end'), { complete: true });
    assert.deepEqual(await within(g2.done, WAIT_MS, 'the GET stream on C to end'), { complete: true });
    assert.deepEqual(await within(call.done, WAIT_MS, 'the call on C to end'), { complete: true });
    assert.deepEqual(call.messages().at(-1), rpcError(20, -32603, 'Request cancelled: session deleted'));
    for (const u of urls) await assertGone(raw, u, sid);
  });

  test('legacy HTTP+SSE: the /sse stream on A answers messages POSTed to /message on B and C', async () => {
    const headers = { Authorization: `Bearer ${token}` };
    const sse = await openLegacySse(c.mcp[0].origin, { headers });
    try {
      for (const [i, m] of [[1, c.mcp[1]], [2, c.mcp[2]]]) {
        const u = new URL(sse.messageUrl.pathname + sse.messageUrl.search, m.origin);
        const msg = i === 1 ? { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }
          : { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'via C' } } };
        const r = await fetch(u, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(msg) });
        assert.equal(r.status, 202, await r.text());
      }
      assert.equal((await sse.reply(1, WAIT_MS)).result.protocolVersion, '2024-11-05');
      assert.deepEqual((await sse.reply(2, WAIT_MS)).result.content, [{ type: 'text', text: 'Echo: via C' }]);
    } finally {
      sse.close();
    }
  });

  describe('the authorization server on Redis', () => {
    test('a client registered on auth instance 1 is authorized and gets tokens on instance 2; every MCP instance accepts the token', async () => {
      const [as1, as2] = c.auth.map((x) => x.origin);
      const client = await register(as1);
      const { verifier, challenge } = pkce();
      const a = await authorize(as2, client, { challenge, resource: c.mcpUrl });
      assert.equal(a.res.status, 200, a.text);
      const cb = await idpCallback(as1, a.code, 'user-cluster');
      assert.equal(cb.status, 302);
      assert.equal(new URL(cb.headers.get('location')).searchParams.get('code'), a.code);
      const t = await postForm(as2, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: a.code,
        redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: c.mcpUrl });
      assert.equal(t.status, 200, t.text);
      const mine = rawClient(t.json.access_token);
      const sid = await mine.open(urls[0]);
      for (const u of urls) assert.deepEqual((await mine.call(u, sid, { jsonrpc: '2.0', id: 1, method: 'ping' })).body, { jsonrpc: '2.0', id: 1, result: {} });
      // Another user's token does not open this user's session on any instance.
      for (const u of urls) assert.equal((await raw.call(u, sid, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, 404);
      assert.equal((await mine.del(urls[1], sid)).status, 200);
    });

    test('refresh on the other auth instance; revocation refused by every MCP instance within the introspection cache bound', async () => {
      const [as1, as2] = c.auth.map((x) => x.origin);
      const first = await login(as1, { resource: c.mcpUrl, issuer: c.asOrigin });
      const r = await postForm(as2, '/token', { grant_type: 'refresh_token', ...clientAuth(first.client), refresh_token: first.tokens.refresh_token });
      assert.equal(r.status, 200, r.text);
      assert.notEqual(r.json.refresh_token, first.tokens.refresh_token);
      const reused = await postForm(as1, '/token', { grant_type: 'refresh_token', ...clientAuth(first.client), refresh_token: first.tokens.refresh_token });
      assert.equal(reused.status, 400, 'the rotated-out refresh token is refused on the other instance');
      // That reuse revoked the family (oauth-attacks.test.mjs): log in again for the revocation part.
      const { client, tokens } = await login(as2, { resource: c.mcpUrl, issuer: c.asOrigin });
      const mine = rawClient(tokens.access_token);
      const sid = await mine.open(urls[0]);
      // Every instance has the token's introspection cached as active before the revocation.
      for (const u of urls) assert.equal((await mine.call(u, sid, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, 200);
      const rv = await postForm(as1, '/revoke', { ...clientAuth(client), token: tokens.access_token, token_type_hint: 'access_token' });
      assert.equal(rv.status, 200, rv.text);
      const revokedAt = Date.now();
      const bound = CACHE_MS + 4000; // the cache bound plus a margin for a loaded machine
      for (const u of urls) {
        for (;;) {
          const p = await mine.call(u, sid, { jsonrpc: '2.0', id: 2, method: 'ping' });
          if (p.status === 401) break;
          assert.equal(p.status, 200);
          assert.ok(Date.now() - revokedAt < bound, `${u} still accepts the revoked token after ${Date.now() - revokedAt} ms`);
          await sleep(100);
        }
      }
    });
  });

  test('SIGKILL of the instance that created the session: the session goes on through the others and the balancer', async () => {
    const records = [];
    const fetchFn = instanceFetch(records);
    const sid = await raw.open(urls[0]);
    const inFlight = raw.post(urls[0], sid, longCall(30, { duration: 600, steps: 6000 }, 'tok-30'));
    await inFlight.waitFor((x) => progressOf(x).length >= 1, 'the call in flight on the victim');
    await c.mcp[0].kill();
    const cut = await within(inFlight.done, WAIT_MS, 'the call on the dead instance to break');
    assert.equal(cut.complete, false, 'the call in flight on the dead instance is lost');
    for (const u of urls.slice(1)) assert.equal((await raw.call(u, sid, { jsonrpc: '2.0', id: 31, method: 'ping' })).status, 200);

    // The SDK joins the same session through the balancer (no new initialize) and keeps going
    // while haproxy still tries the dead instance (a refused connection is redispatched).
    const transport = new StreamableHTTPClientTransport(new URL(c.mcpUrl), { sessionId: sid, fetch: fetchFn,
      requestInit: { headers: { Authorization: `Bearer ${token}`, 'MCP-Protocol-Version': VERSION } } });
    const client = new Client({ name: 'cluster-kill', version: '1.0.0' });
    await client.connect(transport);
    for (let i = 0; i < 6; i++) {
      const echo = await client.callTool({ name: 'echo', arguments: { message: `after kill ${i}` } });
      assert.deepEqual(echo.content, [{ type: 'text', text: `Echo: after kill ${i}` }]);
    }
    const progress = [];
    await client.callTool({ name: 'longRunningOperation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(new Set(records.filter((r) => r.path === '/mcp').map((r) => r.instance)), new Set(['mcp1', 'mcp2']));
    assert.deepEqual(records.filter((r) => r.status >= 400), []);
    await transport.terminateSession();
    await client.close();
    for (const u of urls.slice(1)) await assertGone(raw, u, sid);
  });
});

// ------------------------------------------------------ slow subscriptions on one instance ----

describe('instance B subscribes late (its Redis subscription traffic delayed 300 ms)', () => {
  let c;
  let raw;
  let fast;
  let slow;

  before(async () => {
    c = await startCluster({ name: 'cluster-slow', noAuth: true, mcpCount: 2, slowSubscriptions: { 1: 300 },
      mcpArgs: ['--timer-scale-percent', '100000'] });
    raw = rawClient();
    [fast, slow] = c.mcp.map((m) => m.url);
  });

  after(async () => {
    await c?.stop();
  });

  test('a sampling answer POSTed to A at once reaches the call waiting on B', async () => {
    const sid = await raw.open(fast, { sampling: {} });
    const call = raw.post(slow, sid, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'sampleLLM', arguments: { prompt: 'hi' } } });
    await call.waitFor((x) => x.messages().some((m) => m.method === 'sampling/createMessage'), 'the sampling request');
    const req = call.messages().find((m) => m.method === 'sampling/createMessage');
    const reply = await raw.call(fast, sid, { jsonrpc: '2.0', id: req.id, result: { model: 'm', role: 'assistant', content: { type: 'text', text: 'quick' } } });
    assert.equal(reply.status, 202);
    assert.deepEqual(await within(call.done, WAIT_MS, 'the sampled result'), { complete: true });
    assert.deepEqual(call.messages().at(-1), { jsonrpc: '2.0', id: 5, result: { content: [{ type: 'text', text: 'LLM sampling result: quick' }] } });
  });

  test('a POST stream from A resumed on B while events keep coming: none missed, none twice', async () => {
    const sid = await raw.open(fast);
    const steps = 150;
    const call = raw.post(fast, sid, longCall(11, { duration: 1.5, steps }, 'tok-11'));
    await call.waitFor((x) => progressOf(x).length >= 3, 'three progress notifications');
    call.close();
    const seen = call.dataEvents();
    const { seq } = eventId(seen.at(-1).id);
    const resumed = raw.get(slow, sid, seen.at(-1).id);
    assert.deepEqual(await within(resumed.done, WAIT_MS, 'the resumed stream to end'), { complete: true });
    const got = resumed.dataEvents();
    assert.deepEqual(got.map((e) => eventId(e.id).seq), got.map((_, i) => seq + 1 + i), JSON.stringify(got.map((e) => e.id)));
    const all = [...call.messages().slice(0, seen.length), ...resumed.messages()];
    assert.deepEqual(all.slice(0, -1).map((m) => m.params.progress), Array.from({ length: steps }, (_, i) => i + 1));
    assert.deepEqual(all.at(-1), longResult(11, 1.5, steps));
  });

  test('legacy /sse on B: a message POSTed to A right after the endpoint event is delivered (202, answered)', async () => {
    const sse = await openLegacySse(c.mcp[1].origin);
    try {
      const u = new URL(sse.messageUrl.pathname + sse.messageUrl.search, c.mcp[0].origin);
      const r = await fetch(u, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
      assert.equal(r.status, 202, await r.text());
      assert.deepEqual(await sse.reply(1, WAIT_MS), { jsonrpc: '2.0', id: 1, result: {} });
    } finally {
      sse.close();
    }
  });

  test('DELETE on A right after a GET stream opened on B ends that stream', async () => {
    const sid = await raw.open(fast);
    const g = await openGet(raw, slow, sid);
    assert.equal((await raw.del(fast, sid)).status, 200);
    assert.deepEqual(await within(g.done, 5000, 'the GET stream on B to end'), { complete: true });
  });
});

// ------------------------------------------------------------- conformance suite ----

// The two suites of tests/layers/conformance.sh, counted as there: every SUCCESS of every
// scenario's checks.json is a passed subtest, every FAILURE or WARNING a failed one; INFO and
// SKIPPED do not count; the alpha's SSE polling checks must be made (through the balancer, the
// resuming GET lands on another instance than the POST it resumes).
const SUITES = [
  { label: 'stable-0.1.16', cli: '@modelcontextprotocol/conformance/dist/index.js', args: ['--suite', 'all'], required: [] },
  { label: 'alpha-2025-11-25', cli: 'conformance-alpha/dist/index.js', args: ['--requirements', '2025-11-25'],
    required: ['server-sse-polling server-sse-priming-event', 'server-sse-polling server-sse-retry-field', 'server-sse-polling server-sse-disconnect-resume'] },
];

describe('the official conformance suites through the balancer, three --no-auth instances with the conformance pack', () => {
  let c;
  const runs = {};

  before(async () => {
    c = await startCluster({ name: 'cluster-conf', noAuth: true, features: 'conformance' });
    for (const s of SUITES) {
      const out = path.join(ROOT, 'build/test-logs', `cluster-conformance-${BUILD}`, s.label);
      rmSync(out, { recursive: true, force: true });
      const cli = path.join(ROOT, 'tests/integration/node_modules', s.cli);
      runs[s.label] = await new Promise((resolve) => {
        execFile(process.execPath, [cli, 'server', '--url', c.mcpUrl, '-o', out, ...s.args],
          { timeout: 240000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ error, stdout, stderr, out }));
      });
    }
  });

  after(async () => {
    await c?.stop();
  });

  for (const s of SUITES) {
    test(`${s.label}: every check of every scenario`, async (t) => {
      const run = runs[s.label];
      const total = /^Total: (\d+) passed, (\d+) failed/m.exec(run.stdout);
      assert.ok(total, `no Total: line (${run.error?.message}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
      const ran = (run.stdout.match(/^=== Running scenario: /gm) ?? []).length;
      assert.ok(ran > 0, 'no scenario ran');
      const dirs = existsSync(run.out) ? readdirSync(run.out).filter((d) => existsSync(path.join(run.out, d, 'checks.json'))) : [];
      assert.equal(dirs.length, ran, 'every scenario left its checks.json');
      let ok = 0;
      let failed = 0;
      const made = new Set();
      for (const d of dirs.sort()) {
        const scenario = d.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[0-9-]+Z$/, '');
        const checks = JSON.parse(readFileSync(path.join(run.out, d, 'checks.json'), 'utf8'));
        for (const ch of checks) {
          if (!['SUCCESS', 'FAILURE', 'WARNING'].includes(ch.status)) continue;
          made.add(`${scenario} ${ch.id}`);
          if (ch.status === 'SUCCESS') ok++;
          else if (ch.status === 'FAILURE') failed++;
          await t.test(`${s.label} ${scenario} ${ch.id}`, () => {
            assert.equal(ch.status, 'SUCCESS', `${ch.status}: ${ch.errorMessage ?? ch.description ?? ''}`);
          });
        }
      }
      assert.deepEqual([ok, failed], [Number(total[1]), Number(total[2])], `checks.json files disagree with "${total[0]}"`);
      for (const r of s.required) assert.ok(made.has(r), `required check ${r} was not made`);
    });
  }
});
