// GET /metrics on both roles (Prometheus text exposition format 0.0.4): every line of the page
// parses with a strict grammar (HELP and TYPE before a family's samples, names and labels as the
// format allows, integer values, counters named *_total), and the counters move by exactly what
// the test did: HTTP answers by route and status class, MCP calls by method and outcome, SSE
// streams, 401s, 429s, tokens issued and refused. Who may read it: loopback clients without
// METRICS_TOKEN; with it, only the right bearer token (from anywhere); another address without a
// token gets 403 (checked when this machine has a non-loopback IPv4 address).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';

import { freePort, spawnMcpd } from './lib/server.mjs';
import { login, mcpPost, openSession, postForm, startOAuthServers } from './lib/oauth.mjs';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (-?[0-9]+)$`);
const HELP = new RegExp(`^# HELP (${NAME}) \\S.*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge)$`);

/** Parse a page strictly; resolves to a Map "name{labels}" -> number. */
function parse(text) {
  assert.ok(text.endsWith('\n'), 'the page ends with a newline');
  const values = new Map();
  const help = new Set();
  const types = new Map();
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = HELP.exec(line))) {
      assert.ok(!help.has(m[1]), `one HELP for ${m[1]}`);
      help.add(m[1]);
    } else if ((m = TYPE.exec(line))) {
      assert.ok(help.has(m[1]) && !types.has(m[1]), `TYPE of ${m[1]} once, after its HELP`);
      types.set(m[1], m[2]);
    } else if ((m = SAMPLE.exec(line))) {
      assert.ok(types.has(m[1]), `${m[1]} has its TYPE before its samples`);
      if (types.get(m[1]) === 'counter') assert.match(m[1], /_total$/, `counter ${m[1]}`);
      const key = m[2] ? `${m[1]}{${m[2]}}` : m[1];
      assert.ok(!values.has(key), `one sample for ${key}`);
      values.set(key, Number(m[3]));
    } else {
      assert.fail(`a line the exposition format does not allow: ${JSON.stringify(line)}`);
    }
  }
  return values;
}

async function scrape(origin, headers = {}) {
  const res = await fetch(`${origin}/metrics`, { headers });
  assert.equal(res.status, 200, `${origin}/metrics`);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parse(await res.text());
}

/** The change of every sample between two scrapes, without the zeros. */
function delta(before, after) {
  const d = {};
  for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) d[k] = v - (before.get(k) ?? 0);
  return d;
}

let srv; // `mcpd all` with authorization
const others = [];

before(async () => {
  srv = await startOAuthServers({ name: 'metrics' });
});

after(async () => {
  const r = await Promise.allSettled([srv?.stop(), ...others.map((s) => s.stop())]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

test('both roles: every line parses; the families and gauges are there', async () => {
  const mcp = await scrape(srv.mcpOrigin);
  const as = await scrape(srv.asOrigin);
  for (const k of ['mcpd_http_requests_total{role="mcp",route="/mcp",code="2xx"}', 'mcpd_rate_limited_total{role="mcp"}',
    'mcpd_unauthorized_total{role="mcp"}', 'mcpd_mcp_calls_total{role="mcp",method="tools/call",outcome="ok"}',
    'mcpd_sse_streams_open{role="mcp"}', 'mcpd_sessions_live{role="mcp"}', 'mcpd_calls_in_flight{role="mcp"}']) {
    assert.ok(mcp.has(k), k);
  }
  assert.equal(mcp.get('mcpd_store_up{role="mcp"}'), 1);
  assert.equal(mcp.get('mcpd_auth_server_up{role="mcp"}'), 1);
  assert.equal(as.get('mcpd_store_up{role="auth"}'), 1);
  assert.ok(as.has('mcpd_auth_tokens_total{role="auth",result="issued"}'));
  assert.ok(!as.has('mcpd_mcp_calls_total{role="auth",method="ping",outcome="ok"}'), 'no MCP families on the auth role');
});

test('the counters move by what was done', async () => {
  const mcp0 = await scrape(srv.mcpOrigin);
  const as0 = await scrape(srv.asOrigin);
  const { tokens } = await login(srv.asOrigin); // register, /authorize, callback, /token
  const refused = await postForm(srv.asOrigin, '/token', { grant_type: 'authorization_code', client_id: 'nope', code: 'x' });
  assert.equal(refused.status, 400);
  const unauth = await mcpPost(srv.mcpUrl, undefined, { jsonrpc: '2.0', id: 1, method: 'ping' });
  assert.equal(unauth.status, 401);
  const sid = await openSession(srv.mcpUrl, tokens.access_token); // initialize + initialized
  const h = { 'Mcp-Session-Id': sid };
  assert.equal((await mcpPost(srv.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'm' } } }, h)).status, 200);
  const bad = await mcpPost(srv.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 3, method: 'no/such' }, h);
  assert.equal(bad.json.error.code, -32601);
  // A call that sends progress first is answered as an SSE stream.
  const sse = await mcpPost(srv.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 4, method: 'tools/call',
    params: { name: 'longRunningOperation', arguments: { duration: 0.2, steps: 1 }, _meta: { progressToken: 1 } } }, h);
  assert.match(sse.headers.get('content-type'), /text\/event-stream/);

  const mcp = delta(mcp0, await scrape(srv.mcpOrigin));
  const as = delta(as0, await scrape(srv.asOrigin));
  // The session's live entry on this instance may or may not be gone by now.
  assert.ok([undefined, 1].includes(mcp['mcpd_sessions_live{role="mcp"}']));
  delete mcp['mcpd_sessions_live{role="mcp"}'];
  assert.deepEqual(mcp, {
    'mcpd_http_requests_total{role="mcp",route="/mcp",code="2xx"}': 5, // initialize, initialized, 3 calls
    'mcpd_http_requests_total{role="mcp",route="/mcp",code="4xx"}': 1,
    'mcpd_http_requests_total{role="mcp",route="/metrics",code="2xx"}': 1, // the first scrape
    'mcpd_unauthorized_total{role="mcp"}': 1,
    'mcpd_mcp_calls_total{role="mcp",method="initialize",outcome="ok"}': 1,
    'mcpd_mcp_calls_total{role="mcp",method="tools/call",outcome="ok"}': 2,
    'mcpd_mcp_calls_total{role="mcp",method="other",outcome="error"}': 1,
    'mcpd_sse_streams_opened_total{role="mcp"}': 1,
  });
  assert.deepEqual(as, {
    'mcpd_http_requests_total{role="auth",route="/register",code="2xx"}': 1,
    'mcpd_http_requests_total{role="auth",route="/authorize",code="2xx"}': 1,
    'mcpd_http_requests_total{role="auth",route="/mock-upstream-idp/callback",code="3xx"}': 1,
    'mcpd_http_requests_total{role="auth",route="/token",code="2xx"}': 1,
    'mcpd_http_requests_total{role="auth",route="/token",code="4xx"}': 1,
    'mcpd_http_requests_total{role="auth",route="/introspect",code="2xx"}': 1, // the MCP role checks the new token once
    'mcpd_http_requests_total{role="auth",route="/metrics",code="2xx"}': 1,
    'mcpd_auth_tokens_total{role="auth",result="issued"}': 1,
    'mcpd_auth_tokens_total{role="auth",result="refused"}': 1,
  });
});

test('rate-limited requests are counted; METRICS_TOKEN guards the page', async () => {
  const port = await freePort();
  const token = 'metrics-test-token-0123456789';
  // The authorization server: it may listen on every address (--no-auth MCP may not).
  const p = await spawnMcpd({ name: 'metrics-token', waitPorts: [port], env: { METRICS_TOKEN: token },
    args: ['auth', '--host', '0.0.0.0', '--auth-port', String(port), '--rate-limit-token', '2'] });
  others.push(p);
  const origin = `http://127.0.0.1:${port}`;
  for (const headers of [{}, { Authorization: 'Bearer wrong' }, { Authorization: `Basic ${token}` }]) {
    const res = await fetch(`${origin}/metrics`, { headers });
    assert.equal(res.status, 403, JSON.stringify(headers));
    assert.deepEqual(await res.json(), { error: 'forbidden', error_description: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' });
  }
  const auth = { Authorization: `Bearer ${token}` };
  const m0 = await scrape(origin, auth);
  for (let i = 0; i < 4; i++) await postForm(origin, '/token', { grant_type: 'authorization_code', client_id: 'nope', code: 'x' });
  const d = delta(m0, await scrape(origin, auth));
  // The limiter's window may roll over between the posts: at least 1 of the 4 is refused.
  assert.ok(d['mcpd_rate_limited_total{role="auth"}'] >= 1, JSON.stringify(d));
  assert.equal(d['mcpd_http_requests_total{role="auth",route="/token",code="4xx"}'], 4, JSON.stringify(d));
  assert.equal(d['mcpd_auth_tokens_total{role="auth",result="refused"}'], 4, JSON.stringify(d));
  // From another address of this machine (not loopback), the token still works.
  const ip = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (ip) assert.equal(await rawStatus(ip, port, auth), 200);
});

test('without METRICS_TOKEN only loopback clients may read /metrics', async (t) => {
  const ip = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) return t.skip('no non-loopback IPv4 address on this machine');
  const port = await freePort();
  const p = await spawnMcpd({ name: 'metrics-loopback', waitPorts: [port],
    args: ['auth', '--host', '0.0.0.0', '--auth-port', String(port)] });
  others.push(p);
  assert.equal(await rawStatus('127.0.0.1', port, {}), 200);
  assert.equal(await rawStatus(ip, port, {}), 403);
  assert.equal(await rawStatus(ip, port, {}, '/health'), 200, 'the same client reaches /health');
});

/** GET path from host:port with Host: localhost (so the Host check passes); resolves to the status. */
function rawStatus(host, port, headers, path = '/metrics') {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers: { Host: `localhost:${port}`, ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}
