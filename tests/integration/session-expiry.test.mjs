// Session lifetime on the Streamable HTTP transport: a session that receives no message for
// SESSION_TTL_MS expires; its open GET stream then ends (with its timers) instead of serving a
// dead session, and the id is answered 404 afterwards. Run with a 1 s TTL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';

let server;
const headers = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'MCP-Protocol-Version': '2025-11-25',
};

before(async () => {
  server = await startServer({ name: 'session-expiry', features: 'reference',
    extraArgs: ['--session-ttl-ms', '1000'] });
});
after(async () => { await server?.stop().catch(() => {}); });

async function openSession() {
  const r = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  assert.equal(r.status, 200);
  await r.text();
  return r.headers.get('mcp-session-id');
}

test('an idle session expires: its GET stream ends and the id then gets 404', async () => {
  const sid = await openSession();
  const started = Date.now();
  const r = await fetch(server.url, { headers: { Accept: 'text/event-stream', 'Mcp-Session-Id': sid,
    'MCP-Protocol-Version': '2025-11-25' }, signal: AbortSignal.timeout(8000) });
  assert.equal(r.status, 200);
  await r.text(); // resolves when the server ends the stream
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 5000, `stream ended after ${elapsed} ms`);
  const ping = await fetch(server.url, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
  assert.equal(ping.status, 404);
});

test('a session that keeps receiving messages stays alive past its TTL', async () => {
  const sid = await openSession();
  for (let i = 0; i < 6; i++) {
    await new Promise((res) => setTimeout(res, 400));
    const r = await fetch(server.url, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 10 + i, method: 'ping' }) });
    assert.equal(r.status, 200, `ping ${i} after ${(i + 1) * 400} ms`);
    await r.text();
  }
});
