// Redis going away under a running `mcpd mcp` and `mcpd auth` (both on REDIS_URL, one
// redis-server of this file's own with an append-only file in a temporary directory): while it is
// down every request that needs the store gets a clean 503 with a JSON body and Retry-After, /health
// says the store is down and nothing crashes; once redis-server listens again both roles recover by
// themselves within 2 s and the session made before the outage (kept by the AOF) works again; a
// restart under light load gives only 200s and clean 503s.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnMcpd } from './lib/server.mjs';

const RECOVERY_MS = 2000; // the store reconnects within this of redis-server listening again
const WAIT_MS = 10000; // upper bound for anything else this file waits for
const REQUEST_TIMEOUT_MS = 5000; // a request left unanswered this long counts as a hang

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portAnswers(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

async function until(what, fn, ms = WAIT_MS, every = 25) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

let dir;
let redisPort;
let redis; // { proc, exited }
let mcp;
let auth;
let mcpOrigin;
let authOrigin;
let sid;

/** redis-server on redisPort with its AOF in dir; resolves once it accepts connections. */
async function startRedis() {
  const proc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  let gone = false;
  exited.then(() => { gone = true; });
  await until('redis-server to listen', async () => {
    if (gone) throw new Error('redis-server exited at startup');
    return portAnswers(redisPort);
  });
  redis = { proc, exited };
}

/** SIGTERM (redis-server writes its AOF and exits), and wait for the exit. */
async function stopRedis() {
  if (!redis) return;
  const { proc, exited } = redis;
  redis = null;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), WAIT_MS);
  await exited;
  clearTimeout(timer);
}

function rpc(id, method, params) {
  return JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
}

async function post(body, { session = true } = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  if (session) {
    headers['Mcp-Session-Id'] = sid;
    headers['MCP-Protocol-Version'] = '2025-06-18';
  }
  return fetch(`${mcpOrigin}/mcp`, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** The JSON-RPC message in a response, whether sent as JSON or as one SSE event. */
async function message(res) {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text);
  const data = text.split('\n').find((l) => l.startsWith('data: '));
  assert.ok(data, `no data line in ${text}`);
  return JSON.parse(data.slice(6));
}

async function health(origin) {
  const res = await fetch(`${origin}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, body: await res.json() };
}

function register() {
  return fetch(`${authOrigin}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/callback'], client_name: 'outage' }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** A 503 the way a client can act on it: Retry-After and a JSON body. */
async function assertClean503(res, what) {
  assert.equal(res.status, 503, `${what}: status`);
  assert.equal(res.headers.get('retry-after'), '1', `${what}: Retry-After`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${what}: content type`);
  return res.json();
}

async function pingOk(id) {
  const res = await post(rpc(id, 'ping'));
  assert.equal(res.status, 200);
  const msg = await message(res);
  assert.equal(msg.id, id);
  assert.deepEqual(msg.result, {});
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mcpd-redis-outage-'));
  redisPort = await freePort();
  await startRedis();
  const port = await freePort();
  const authPort = await freePort();
  mcpOrigin = `http://127.0.0.1:${port}`;
  authOrigin = `http://127.0.0.1:${authPort}`;
  const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  mcp = await spawnMcpd({ name: 'redis-outage-mcp', env, waitPorts: [port],
    args: ['mcp', '--no-auth', '--features', 'conformance', '--port', String(port)] });
  auth = await spawnMcpd({ name: 'redis-outage-auth', env, waitPorts: [authPort],
    args: ['auth', '--auth-port', String(authPort), '--auth-server-url', authOrigin] });
  await until('both roles healthy', async () =>
    (await health(mcpOrigin)).status === 200 && (await health(authOrigin)).status === 200);
});

after(async () => {
  const r = await Promise.allSettled([mcp?.stop(), auth?.stop()]);
  await stopRedis();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

test('redis-server stopped: /health 503 with the store down, requests 503 with a JSON body, mcpd keeps running', async () => {
  const init = await post(rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {},
    clientInfo: { name: 'outage', version: '1' } }), { session: false });
  assert.equal(init.status, 200);
  sid = init.headers.get('mcp-session-id');
  assert.ok(sid);
  await init.text();
  const ack = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  assert.equal(ack.status, 202);
  await pingOk(2);

  await stopRedis();
  await until('/health to report the store down', async () => (await health(mcpOrigin)).status === 503);
  const h = await health(mcpOrigin);
  assert.equal(h.body.services.store, 'unavailable');
  const ah = await health(authOrigin);
  assert.equal(ah.status, 503);
  assert.equal(ah.body.store, 'unavailable');

  const body = await assertClean503(await post(rpc(7, 'ping')), 'POST /mcp on the session');
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, 7);
  assert.equal(body.error.code, -32603);
  assert.match(body.error.message, /session store unreachable/);

  const reg = await assertClean503(await register(), 'POST /register');
  assert.equal(reg.error, 'temporarily_unavailable');
  assert.equal(typeof reg.error_description, 'string');

  assert.equal(mcp.proc.exitCode, null, 'mcpd mcp still running');
  assert.equal(auth.proc.exitCode, null, 'mcpd auth still running');
});

test('redis-server back on the same port and AOF: healthy within 2 s, the same session works again', async () => {
  await startRedis();
  const back = Date.now();
  await until('/health 200 on both roles', async () =>
    (await health(mcpOrigin)).status === 200 && (await health(authOrigin)).status === 200, RECOVERY_MS, 20);
  assert.ok(Date.now() - back <= RECOVERY_MS, `recovered in ${Date.now() - back} ms`);
  await pingOk(3);
  const reg = await register();
  assert.equal(reg.status, 201);
  assert.ok((await reg.json()).client_id);
});

test('a restart under light load: only 200s and clean 503s, back within 2 s', async () => {
  const results = [];
  const inflight = [];
  let id = 100;
  let listenAt = null;
  const restart = (async () => {
    await sleep(800);
    await stopRedis();
    await startRedis();
    listenAt = Date.now();
  })();
  const start = Date.now();
  // 20 requests a second until 2.5 s after redis-server listens again (bounded overall).
  while (Date.now() - start < WAIT_MS && (listenAt === null || Date.now() - listenAt < RECOVERY_MS + 500)) {
    const myId = ++id;
    const sentAt = Date.now();
    inflight.push(post(rpc(myId, 'ping')).then(async (res) => {
      const entry = { id: myId, sentAt, status: res.status };
      if (res.status === 200) entry.msg = await message(res);
      else {
        entry.retryAfter = res.headers.get('retry-after');
        entry.body = await res.json(); // a 503 without a JSON body fails here
      }
      results.push(entry);
    }, (err) => results.push({ id: myId, sentAt, error: String(err) })));
    await sleep(50);
  }
  await restart;
  await Promise.all(inflight);
  assert.ok(listenAt !== null, 'redis-server restarted');
  for (const r of results) {
    assert.ok(!r.error, `request ${r.id} failed at the transport level (reset or hang): ${r.error}`);
    if (r.status === 200) {
      assert.equal(r.msg.id, r.id);
      continue;
    }
    assert.equal(r.status, 503, `request ${r.id}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.retryAfter, '1');
    assert.equal(r.body.error.code, -32603);
    assert.equal(r.body.id, r.id);
  }
  assert.ok(results.some((r) => r.status === 503), 'the outage was seen by some request');
  const late = results.filter((r) => r.sentAt >= listenAt + RECOVERY_MS);
  assert.ok(late.length > 0);
  assert.deepEqual(late.filter((r) => r.status !== 200).map((r) => r.id), [], 'all 200 once recovered');
});
