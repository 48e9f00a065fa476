// Session lifetime (docs/architecture.md, "Sessions and streams" and "Legacy HTTP+SSE").
//
// Streamable HTTP: a session that receives no message for SESSION_TTL_MS expires; its open GET
// stream then ends (with its timers) instead of serving a dead session, and the id is 404 after.
// Messages keep a session alive.
//
// Legacy HTTP+SSE: the /sse stream is the session. Messages keep it alive; closing the stream
// ends it, so POST /message is then 404; and, as documented, an open /sse stream keeps its
// session alive even when no message arrives.
//
// `short` runs with a 3 s TTL. `long` keeps the default TTL (5 min), so on it a session can only
// end because its stream closed, never by expiry within the test's ceilings.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';
import { openLegacySse } from './lib/sse.mjs';

const TTL_MS = 3000;
const PING_EVERY_MS = 300; // a tenth of the TTL: keep-alive never hinges on one ping's timing
const KEEP_ALIVE_FOR_MS = 3 * TTL_MS;
const CEILING_MS = 20000; // the asan build on two loaded cores is slow; only a hang hits this
// Expiry is measured on the server's monotonic loop clock and here on Date.now(); this covers
// the two clocks' rounding, not any slowness (slowness only makes the stream end later).
const CLOCK_TOLERANCE_MS = 50;

const SESSION_NOT_FOUND = { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null };
const PV = '2025-11-25';
const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': PV };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let short;
let long;

before(async () => {
  [short, long] = await Promise.all([
    startServer({ name: 'session-expiry-short', features: 'reference', extraArgs: ['--session-ttl-ms', String(TTL_MS)] }),
    startServer({ name: 'session-expiry-long', features: 'reference' }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([short?.stop(), long?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

async function openSession(srv) {
  const r = await fetch(srv.url, { method: 'POST', headers, body: JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  assert.equal(r.status, 200);
  await r.text();
  const sid = r.headers.get('mcp-session-id');
  assert.match(sid ?? '', /\S/);
  return sid;
}

function ping(srv, sid, id) {
  return fetch(srv.url, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }) });
}

const INIT_SSE = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/** /sse session, initialized: the initialize result came back on the stream. */
async function openSseSession(srv) {
  const s = await openLegacySse(srv.origin, { ceilingMs: CEILING_MS });
  const r = await s.post(INIT_SSE);
  assert.equal(r.status, 202, r.text);
  const init = await s.reply(1);
  assert.equal(init.result?.serverInfo?.name, 'example-servers/feature-reference', JSON.stringify(init));
  return s;
}

/** A ping through /message: 202, and its result on the stream. */
async function ssePing(s, id) {
  const r = await s.post({ jsonrpc: '2.0', id, method: 'ping' });
  assert.equal(r.status, 202, `ping ${id}: ${r.status} ${r.text}`);
  assert.deepEqual(await s.reply(id), { jsonrpc: '2.0', id, result: {} });
}

// Each test has its own session, so they run side by side: the file then takes about one
// KEEP_ALIVE_FOR_MS instead of the sum.
describe(`--session-ttl-ms ${TTL_MS}`, { concurrency: true }, () => {
  test('/mcp: an idle session expires: its GET stream ends, not before the TTL, and the id is then 404', async (t) => {
    const initSent = Date.now(); // the last message the server can have seen was sent after this
    const sid = await openSession(short);
    const r = await fetch(short.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': PV },
      signal: AbortSignal.timeout(CEILING_MS) });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/event-stream/);
    await r.text().catch((e) => { throw new Error(`the GET stream did not end within ${CEILING_MS} ms: ${e}`); });
    const lived = Date.now() - initSent;
    t.diagnostic(`GET stream ended ${lived} ms after initialize was sent`);
    assert.ok(lived >= TTL_MS - CLOCK_TOLERANCE_MS, `the stream ended ${lived} ms after initialize was sent, before the ${TTL_MS} ms TTL`);

    const p = await ping(short, sid, 2);
    assert.equal(p.status, 404);
    assert.deepEqual(await p.json(), SESSION_NOT_FOUND);
    const g = await fetch(short.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': PV } });
    assert.equal(g.status, 404);
    assert.deepEqual(await g.json(), SESSION_NOT_FOUND);
  });

  test(`/mcp: a session pinged every ${PING_EVERY_MS} ms outlives its TTL several times over`, async () => {
    const sid = await openSession(short);
    const started = Date.now();
    let id = 10;
    for (; Date.now() - started < KEEP_ALIVE_FOR_MS && id < 1000; id++) {
      await sleep(PING_EVERY_MS);
      const r = await ping(short, sid, id);
      assert.equal(r.status, 200, `ping ${id} at ${Date.now() - started} ms`);
      assert.deepEqual(await r.json(), { jsonrpc: '2.0', id, result: {} });
    }
    assert.ok(Date.now() - started >= KEEP_ALIVE_FOR_MS, `${id - 10} pings`);
  });

  test(`/sse: a session that receives a message every ${PING_EVERY_MS} ms outlives its TTL several times over`, async () => {
    const s = await openSseSession(short);
    try {
      const started = Date.now();
      for (let id = 10; Date.now() - started < KEEP_ALIVE_FOR_MS && id < 1000; id++) {
        await sleep(PING_EVERY_MS);
        await ssePing(s, id);
      }
      assert.equal(s.ended(), null, 'the stream is still open');
    } finally {
      s.close();
    }
  });

  // docs/architecture.md: "A /sse stream does keep its session alive: it is the session." Its
  // heartbeat refreshes the session at most half a TTL apart, so an idle /sse session outlives
  // any TTL while its stream is open.
  test('/sse: an open stream keeps its idle session alive past the TTL', async () => {
    const s = await openSseSession(short);
    try {
      // Idleness is the point here: nothing is sent for two TTLs.
      await sleep(2 * TTL_MS);
      assert.equal(s.ended(), null, 'the stream is still open');
      await ssePing(s, 2);
    } finally {
      s.close();
    }
  });
});

describe('default TTL', () => {
  test('/sse: closing the stream ends the session; POST /message is then 404, and /mcp never knew the id', async () => {
    const s = await openSseSession(long);
    await ssePing(s, 2);
    // An /sse session id is not a Streamable HTTP session.
    const onMcp = await ping(long, s.sid, 3);
    assert.equal(onMcp.status, 404);
    assert.deepEqual(await onMcp.json(), SESSION_NOT_FOUND);

    s.close();
    // The server learns of the close asynchronously: poll until it answers 404 (pings before
    // that are 202 and answered into the closed stream, which is harmless). The TTL is 5 min,
    // so nothing but the close can end this session within the ceiling.
    const deadline = Date.now() + CEILING_MS;
    let r;
    for (let id = 4; ; id++) {
      r = await s.post({ jsonrpc: '2.0', id, method: 'ping' });
      if (r.status !== 202) break;
      assert.ok(Date.now() < deadline, `POST /message still 202 ${CEILING_MS} ms after the stream closed`);
      await sleep(50);
    }
    assert.equal(r.status, 404, r.text);
    assert.deepEqual(r.json, SESSION_NOT_FOUND);
    const again = await s.post({ jsonrpc: '2.0', id: 1000, method: 'ping' });
    assert.equal(again.status, 404, 'the session stays gone');
  });
});

test('both mcpd stop cleanly on SIGTERM with no sanitizer report', async () => {
  await short.stop();
  await long.stop();
});
