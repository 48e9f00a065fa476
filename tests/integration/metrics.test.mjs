// GET /metrics on both roles (Prometheus text exposition format 0.0.4): every line of the page
// parses with a strict grammar (HELP and TYPE before a family's samples, names and labels as the
// format allows, counters named *_total, histograms with cumulative buckets ending in +Inf and
// _count equal to it), and the counters move by exactly what the test did: HTTP answers by route
// and status class and their latency histograms, MCP calls by method and outcome (initialize on
// /mcp and on /sse), SSE streams, 401s, 429s, tokens issued and refused, introspection cache hits
// and misses, store operations by kind. A store error on Redis (its redis-server killed) shows in
// mcpd_store_errors_total. Who may read it: loopback clients without METRICS_TOKEN; with it, only
// the right bearer token (from anywhere); another address without a token gets 403 (checked when
// this machine has a non-loopback IPv4 address).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';

import { freePort, spawnMcpd } from './lib/server.mjs';
import { login, mcpPost, openSession, postForm, startOAuthServers } from './lib/oauth.mjs';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (-?[0-9]+(?:\\.[0-9]+)?)$`);
const HELP = new RegExp(`^# HELP (${NAME}) \\S.*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram)$`);
const HISTOGRAM_PART = /^(.*)_(bucket|sum|count)$/;

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
      const part = HISTOGRAM_PART.exec(m[1]);
      const family = part && types.get(part[1]) === 'histogram' ? part[1] : m[1];
      assert.ok(types.has(family), `${m[1]} has its TYPE before its samples`);
      if (types.get(family) === 'counter') assert.match(m[1], /_total$/, `counter ${m[1]}`);
      if (types.get(family) !== 'histogram' || part[2] !== 'sum') assert.match(m[3], /^-?[0-9]+$/, `${m[1]} is an integer`);
      const key = m[2] ? `${m[1]}{${m[2]}}` : m[1];
      assert.ok(!values.has(key), `one sample for ${key}`);
      values.set(key, Number(m[3]));
    } else {
      assert.fail(`a line the exposition format does not allow: ${JSON.stringify(line)}`);
    }
  }
  checkHistograms(values);
  return values;
}

/** Every histogram's buckets are cumulative, end in +Inf, and +Inf equals _count. */
function checkHistograms(values) {
  const series = new Map(); // name{labels without le} -> [bucket values in order]
  for (const [k, v] of values) {
    const m = /^(.*)_bucket\{(.*),le="([^"]+)"\}$/.exec(k);
    if (!m) continue;
    const id = `${m[1]}{${m[2]}}`;
    if (!series.has(id)) series.set(id, []);
    series.get(id).push([m[3], v]);
  }
  for (const [id, buckets] of series) {
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(buckets[i][0]) > Number(buckets[i - 1][0]) || buckets[i][0] === '+Inf', `${id} bounds grow`);
      assert.ok(buckets[i][1] >= buckets[i - 1][1], `${id} buckets are cumulative`);
    }
    assert.equal(buckets.at(-1)[0], '+Inf', `${id} ends with +Inf`);
    assert.equal(values.get(id.replace(/\{/, '_count{')), buckets.at(-1)[1], `${id} _count is +Inf's`);
  }
}

/** Split a delta into the counters compared exactly and the histograms and store counters. */
function split(d) {
  const exact = {};
  const timing = {};
  for (const [k, v] of Object.entries(d)) {
    if (/_(bucket|sum|count)\{|^mcpd_store_|^mcpd_introspection_/.test(k)) timing[k] = v;
    else exact[k] = v;
  }
  return { exact, timing };
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

  const { exact: mcp, timing: mcpT } = split(delta(mcp0, await scrape(srv.mcpOrigin)));
  const { exact: as, timing: asT } = split(delta(as0, await scrape(srv.asOrigin)));
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
  // One latency observation per answer, on the answer's route.
  assert.equal(mcpT['mcpd_http_request_duration_seconds_count{role="mcp",route="/mcp"}'], 6);
  assert.equal(mcpT['mcpd_http_request_duration_seconds_count{role="mcp",route="/metrics"}'], 1);
  assert.equal(asT['mcpd_http_request_duration_seconds_count{role="auth",route="/token"}'], 2);
  assert.equal(asT['mcpd_http_request_duration_seconds_count{role="auth",route="/authorize"}'], 1);
  // The new token is introspected once (a miss), then found in the cache for the session's
  // four later requests; the request without a token is neither.
  assert.equal(mcpT['mcpd_introspection_cache_total{role="mcp",result="miss"}'], 1);
  assert.equal(mcpT['mcpd_introspection_cache_total{role="mcp",result="hit"}'], 4);
  // The store: the session's writes and reads, the grants'; no errors.
  for (const [t, role] of [[mcpT, 'mcp'], [asT, 'auth']]) {
    assert.ok(t[`mcpd_store_operation_duration_seconds_count{role="${role}",op="write"}`] > 0, role);
    assert.ok(t[`mcpd_store_operation_duration_seconds_count{role="${role}",op="read"}`] > 0, role);
    for (const op of ['read', 'write', 'publish']) assert.equal(t[`mcpd_store_errors_total{role="${role}",op="${op}"}`], undefined);
  }
});

test('initialize over the legacy /sse transport is counted as a call; its stream as an SSE stream', async () => {
  const port = await freePort();
  const p = await spawnMcpd({ name: 'metrics-sse', waitPorts: [port], args: ['mcp', '--no-auth', '--port', String(port)] });
  others.push(p);
  const origin = `http://127.0.0.1:${port}`;
  const m0 = await scrape(origin);
  const ctl = new AbortController();
  const res = await fetch(`${origin}/sse`, { headers: { Accept: 'text/event-stream' }, signal: ctl.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let text = '';
  const readUntil = async (re) => {
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before ${re}`);
      text += new TextDecoder().decode(value);
    }
  };
  await readUntil(/data: (\/message\?sessionId=[^\r\n]+)/);
  const endpoint = /data: (\/message\?sessionId=[^\r\n]+)/.exec(text)[1];
  const post = await fetch(`${origin}${endpoint}`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  assert.equal(post.status, 202);
  await readUntil(/"protocolVersion"/);
  const open = delta(m0, await scrape(origin));
  assert.equal(open['mcpd_mcp_calls_total{role="mcp",method="initialize",outcome="ok"}'], 1, JSON.stringify(open));
  assert.equal(open['mcpd_http_requests_total{role="mcp",route="/message",code="2xx"}'], 1);
  // The legacy stream counts as an SSE stream while it is open.
  assert.equal(open['mcpd_sse_streams_opened_total{role="mcp"}'], 1);
  assert.equal(open['mcpd_sse_streams_open{role="mcp"}'], 1);
  ctl.abort();
  await until('the closed /sse stream to leave the gauge', async () =>
    (await scrape(origin)).get('mcpd_sse_streams_open{role="mcp"}') === m0.get('mcpd_sse_streams_open{role="mcp"}'));
});

test('a store error on Redis (redis-server killed) is counted; latency counts grow', async (t) => {
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => redis.once('exit', resolve));
  t.after(async () => { if (redis.exitCode === null && redis.signalCode === null) redis.kill('SIGKILL'); await exited; });
  await until('redis-server to listen', () => portAnswers(redisPort));
  const port = await freePort();
  const p = await spawnMcpd({ name: 'metrics-redis', waitPorts: [port], env: { REDIS_URL: `redis://127.0.0.1:${redisPort}` },
    args: ['mcp', '--no-auth', '--port', String(port)] });
  others.push(p);
  const origin = `http://127.0.0.1:${port}`;
  const init = () => fetch(`${origin}/mcp`, { method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  await until('the store to be up', async () => (await scrape(origin)).get('mcpd_store_up{role="mcp"}') === 1);
  const m0 = await scrape(origin);
  assert.equal((await init()).status, 200);
  const m1 = await scrape(origin);
  const grown = delta(m0, m1);
  assert.ok(grown['mcpd_store_operation_duration_seconds_count{role="mcp",op="write"}'] >= 1, JSON.stringify(grown));
  assert.equal(m1.get('mcpd_store_errors_total{role="mcp",op="write"}'), 0);
  redis.kill('SIGKILL');
  await exited;
  await until('the store to be down', async () => (await scrape(origin)).get('mcpd_store_up{role="mcp"}') === 0);
  const refused = await init();
  assert.equal(refused.status, 503);
  const d = delta(m1, await scrape(origin));
  const errors = ['read', 'write', 'publish'].reduce((n, op) => n + (d[`mcpd_store_errors_total{role="mcp",op="${op}"}`] ?? 0), 0);
  assert.ok(errors >= 1, `a store error counted: ${JSON.stringify(d)}`);
  assert.ok(d['mcpd_http_requests_total{role="mcp",route="/mcp",code="5xx"}'] === 1, JSON.stringify(d));
});

function portAnswers(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

async function until(what, fn, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

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
