// MCP-level bounds against a real mcpd (docs/reliability.md, "Limits"), and what they save: the
// resource cases of the hardening review (a huge progressToken, huge client capabilities, many
// subscriptions with long URIs, abandoned calls) each measure mcpd's RSS (/proc/<pid>/status
// VmRSS) before and after a bounded loop, print both (t.diagnostic) and, on the normal build,
// assert a generous bound on the growth (ASan's quarantine keeps freed memory, so under the
// sanitizer build RSS is only reported). Asserted on every build: each refusal's exact status and
// body, /health's counters back at zero once calls are abandoned, and mcpd's CPU time (utime +
// stime, /proc/<pid>/stat) back at idle after they end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { startServer } from './lib/server.mjs';

const PV = '2025-06-18';
const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': PV };
const CEILING_MS = 20000; // the asan build on two loaded cores is slow; only a hang hits this
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let srv;
let short; // short session TTL and call deadline: abandoned calls end within seconds

before(async () => {
  [srv, short] = await Promise.all([
    startServer({ name: 'limits', features: 'reference,conformance' }),
    startServer({ name: 'limits-short', features: 'reference',
      extraArgs: ['--session-ttl-ms', '1500', '--max-call-duration-ms', '3000'] }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([srv?.stop(), short?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

// The sanitizer build keeps freed memory in its quarantine: RSS bounds hold only without it.
const SANITIZED = /asan/.test(process.env.MCPD_BIN ?? '');
const MiB = 1024;

function rssKiB(s) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.proc.pid}/status`, 'utf8'));
  return Number(m[1]);
}

/** Print RSS before and after; on the normal build, assert the growth stays under boundKiB. */
function report(t, s, what, before, boundKiB) {
  const after = rssKiB(s);
  t.diagnostic(`RSS ${what}: before ${before} KiB, after ${after} KiB (${after - before >= 0 ? '+' : ''}${after - before} KiB)` +
    (boundKiB ? `, bound +${boundKiB} KiB${SANITIZED ? ' (not asserted: sanitizer build)' : ''}` : ''));
  if (boundKiB && !SANITIZED) assert.ok(after - before < boundKiB, `RSS grew ${after - before} KiB after ${what} (bound ${boundKiB} KiB)`);
}

/** CPU time mcpd has used, in clock ticks (utime + stime). */
function cpuTicks(s) {
  const fields = readFileSync(`/proc/${s.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function post(s, body, sid, extra = {}) {
  const r = await fetch(s.url, { method: 'POST', headers: { ...headers, ...(sid ? { 'Mcp-Session-Id': sid } : {}), ...extra },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, text, sid: r.headers.get('mcp-session-id') };
}

async function openSession(s, capabilities = {}) {
  const r = await post(s, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: PV, capabilities, clientInfo: { name: 't', version: '1' } } });
  assert.equal(r.status, 200, r.text);
  return r.sid;
}

async function health(s) {
  return (await fetch(`${s.origin}/health`)).json();
}

async function waitHealth(s, pred, what) {
  const deadline = Date.now() + CEILING_MS;
  for (;;) {
    const h = await health(s);
    if (pred(h)) return h;
    if (Date.now() > deadline) assert.fail(`${what}: /health still ${JSON.stringify(h)}`);
    await sleep(100);
  }
}

describe('bounds refuse with the exact status and body', () => {
  test('a 1 MiB progressToken is refused (400 -32602) and never multiplied by the event log', async (t) => {
    const sid = await openSession(srv);
    const token = 'x'.repeat(1024 * 1024);
    const before = rssKiB(srv);
    for (let i = 0; i < 20; i++) {
      const r = await post(srv, { jsonrpc: '2.0', id: i, method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 0.1, steps: 5 }, _meta: { progressToken: token } } }, sid);
      assert.equal(r.status, 400);
      assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: null,
        error: { code: -32602, message: 'Invalid params: progressToken longer than the server allows (MAX_ID_BYTES)' } });
    }
    report(t, srv, '20 calls with a 1 MiB progressToken', before, 8 * MiB);
    // A token at the bound is served, progress and all.
    const ok = await post(srv, { jsonrpc: '2.0', id: 'ok', method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 0.1, steps: 2 }, _meta: { progressToken: 't'.repeat(250) } } }, sid);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /Long running operation completed/);
    assert.equal((ok.text.match(/notifications\/progress/g) ?? []).length, 2);
  });

  test('a request id past MAX_ID_BYTES is refused (400 -32600, id not echoed)', async () => {
    const sid = await openSession(srv);
    const r = await post(srv, { jsonrpc: '2.0', id: 'i'.repeat(300), method: 'ping' }, sid);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: null,
      error: { code: -32600, message: 'Invalid Request: id longer than the server allows (MAX_ID_BYTES)' } });
  });

  test('initialize with 512 KiB of capabilities is refused (400 -32602): no session is kept', async (t) => {
    const experimental = { blob: 'c'.repeat(512 * 1024) };
    const before = rssKiB(srv);
    const h0 = await health(srv);
    for (let i = 0; i < 100; i++) {
      const r = await post(srv, { jsonrpc: '2.0', id: 3, method: 'initialize',
        params: { protocolVersion: PV, capabilities: { experimental }, clientInfo: { name: 't', version: '1' } } });
      assert.equal(r.status, 400);
      assert.equal(r.sid, null);
      assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: 3,
        error: { code: -32602, message: 'Invalid params: capabilities larger than the server allows (MAX_CAPABILITIES_BYTES)' } });
    }
    report(t, srv, '100 initialize with 512 KiB capabilities.experimental', before, 20 * MiB);
    assert.equal((await health(srv)).liveSessions, h0.liveSessions);
  });

  test('initialize with 3 MB of capabilities, 30 times: refused, and RSS stays under +20 MB', async (t) => {
    const experimental = { blob: 'c'.repeat(3 * 1024 * 1024) };
    const before = rssKiB(srv);
    for (let i = 0; i < 30; i++) {
      const r = await post(srv, { jsonrpc: '2.0', id: 4, method: 'initialize',
        params: { protocolVersion: PV, capabilities: { experimental }, clientInfo: { name: 't', version: '1' } } });
      assert.equal(r.status, 400);
      assert.deepEqual(JSON.parse(r.text).error.code, -32602);
    }
    report(t, srv, '30 initialize with 3 MB capabilities.experimental', before, 20 * MiB);
  });

  test('subscriptions: long URIs are refused (-32602), a session holds at most 100', async (t) => {
    const sid = await openSession(srv);
    const before = rssKiB(srv);
    const longUri = `test://static/resource/${'u'.repeat(1024 * 1024)}`;
    for (let i = 0; i < 20; i++) {
      const r = await post(srv, { jsonrpc: '2.0', id: i, method: 'resources/subscribe', params: { uri: longUri } }, sid);
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: i,
        error: { code: -32602, message: 'Invalid params: uri longer than the server allows (MAX_URI_BYTES)' } });
    }
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      const uri = `test://static/resource/${i}/${'u'.repeat(1900)}`;
      const r = JSON.parse((await post(srv, { jsonrpc: '2.0', id: i, method: 'resources/subscribe', params: { uri } }, sid)).text);
      if (r.result) accepted++;
      else {
        assert.deepEqual(r, { jsonrpc: '2.0', id: i, error: { code: -32000, message: 'Too many subscriptions (MAX_SUBSCRIPTIONS)' } });
        refused++;
      }
    }
    assert.equal(accepted, 100);
    assert.equal(refused, 50);
    report(t, srv, '20 subscribes with 1 MiB URIs and 150 with 2 KB URIs', before, 16 * MiB);
  });

  test('a batch of more than 100 entries is refused (400 -32600)', async () => {
    const s3 = await post(srv, { jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const batch = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/list' }));
    const r = await post(srv, batch, s3.sid, { 'MCP-Protocol-Version': '2025-03-26' });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: null,
      error: { code: -32600, message: 'Invalid Request: batch has more entries than the server allows (MAX_BATCH_ENTRIES)' } });
  });

  test('longRunningOperation with a huge duration or step count is refused (-32602)', async () => {
    const sid = await openSession(srv);
    const r = JSON.parse((await post(srv, { jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 1e9, steps: 1e9 } } }, sid)).text);
    assert.deepEqual(r, { jsonrpc: '2.0', id: 1,
      error: { code: -32602, message: 'Invalid params: duration must be at most 900 seconds (MAX_CALL_DURATION_MS)' } });
    const s = JSON.parse((await post(srv, { jsonrpc: '2.0', id: 2, method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 10, steps: 1e9 } } }, sid)).text);
    assert.deepEqual(s, { jsonrpc: '2.0', id: 2,
      error: { code: -32602, message: 'Invalid params: steps must be at most 10000 (MAX_TOOL_STEPS)' } });
  });
});

describe('abandoned calls are released', () => {
  test('calls waiting on clients that left are ended; /health shows none left', async (t) => {
    const before = rssKiB(short);
    const aborts = [];
    for (let i = 0; i < 40; i++) {
      const sid = await openSession(short, { sampling: {} });
      const ac = new AbortController();
      aborts.push(ac);
      // sampleLLM waits for a client that never answers (REQUEST_TIMEOUT_MS is a minute): only
      // the session's expiry (1.5 s) or the call deadline (3 s) can end it.
      fetch(short.url, { method: 'POST', signal: ac.signal, headers: { ...headers, 'Mcp-Session-Id': sid },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call',
          params: { name: 'sampleLLM', arguments: { prompt: 'p'.repeat(1000) }, _meta: { progressToken: i } } }) })
        .then((r) => r.text()).catch(() => {});
    }
    const busy = await waitHealth(short, (h) => h.callsInFlight === 40, 'calls started');
    t.diagnostic(`health while running: ${JSON.stringify({ liveSessions: busy.liveSessions, callsInFlight: busy.callsInFlight })}`);
    for (const ac of aborts) ac.abort();
    const h = await waitHealth(short, (x) => x.callsInFlight === 0 && x.liveSessions === 0, 'abandoned calls released');
    assert.equal(h.callsInFlight, 0);
    report(t, short, '40 abandoned calls waiting on the client', before, 16 * MiB);
    // Nothing keeps running for them: over 2 s mcpd uses under 10% of a core (idle is ~0).
    const c0 = cpuTicks(short);
    await sleep(2000);
    const used = cpuTicks(short) - c0;
    t.diagnostic(`CPU after the abandoned calls ended: ${used} ticks in 2 s`);
    assert.ok(used < 20, `mcpd used ${used} clock ticks in 2 s after the abandoned calls ended`);
  });

  test('abandoned streaming calls (client gone mid-progress) run on for a resume, end with their session, release, and leave mcpd idle', async (t) => {
    // A dropped POST stream is resumable (Last-Event-ID), so its call goes on without the
    // client: what ends it is the session's expiry (1.5 s here), DELETE or MAX_CALL_DURATION_MS.
    const before = rssKiB(short);
    const calls = [];
    for (let i = 0; i < 30; i++) {
      const sid = await openSession(short);
      const ac = new AbortController();
      const res = await fetch(short.url, { method: 'POST', signal: ac.signal, headers: { ...headers, 'Mcp-Session-Id': sid },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call',
          params: { name: 'longRunningOperation', arguments: { duration: 600, steps: 6000 }, _meta: { progressToken: `a${i}` } } }) });
      await res.body.getReader().read(); // the stream is under way
      calls.push(ac);
    }
    for (const ac of calls) ac.abort();
    await waitHealth(short, (x) => x.callsInFlight === 0 && x.liveSessions === 0, 'abandoned streaming calls released');
    report(t, short, '30 abandoned streaming calls (6000 steps each)', before, 16 * MiB);
    const c0 = cpuTicks(short);
    await sleep(2000);
    const used = cpuTicks(short) - c0;
    t.diagnostic(`CPU after the abandoned streaming calls ended: ${used} ticks in 2 s`);
    assert.ok(used < 20, `mcpd used ${used} clock ticks in 2 s after the abandoned calls ended`);
  });

  test('the per-session bound refuses a 17th waiting call (-32000)', async () => {
    const sid = await openSession(short);
    const pending = [];
    for (let i = 0; i < 16; i++) {
      pending.push(post(short, { jsonrpc: '2.0', id: i, method: 'tools/call',
        params: { name: 'longRunningOperation', arguments: { duration: 1, steps: 1 } } }, sid));
    }
    await waitHealth(short, (h) => h.callsInFlight >= 16, '16 calls waiting');
    const r = await post(short, { jsonrpc: '2.0', id: 99, method: 'tools/call',
      params: { name: 'longRunningOperation', arguments: { duration: 1, steps: 1 } } }, sid);
    assert.deepEqual(JSON.parse(r.text), { jsonrpc: '2.0', id: 99, error: { code: -32000, message: 'Too many concurrent requests' } });
    for (const p of await Promise.all(pending)) assert.match(p.text, /Long running operation completed/);
    await waitHealth(short, (h) => h.callsInFlight === 0, 'calls done');
  });
});
