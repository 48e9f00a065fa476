// Degraded mode (reference-spec §5.3, DESIGN.md §5): `mcpd mcp` started while nothing listens on
// its AUTH_SERVER_URL answers every MCP route with the peer's 503 JSON-RPC body, says "degraded" on
// /health and shows the banner on the splash page; once `mcpd auth` comes up on that port it
// recovers by itself (re-check every --auth-check-interval-ms) and tokens work. Unlike the peer,
// losing the AS after a good start is noticed too (degraded again), and recovered from.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { freePort, spawnMcpd } from './lib/server.mjs';
import { INIT, login, mcpPost, waitFor } from './lib/oauth.mjs';

const CHECK_MS = 200;
let port;
let authPort;
let mcp;
let auth;
let mcpOrigin;
let asOrigin;
const env = { INTROSPECTION_SECRET: randomBytes(24).toString('hex') };

function common() {
  return ['--port', String(port), '--auth-port', String(authPort), '--base-uri', mcpOrigin, '--auth-server-url', asOrigin];
}

function startAuth() {
  return spawnMcpd({ name: 'oauth-degraded-auth', args: ['auth', ...common()], waitPorts: [authPort], env });
}

before(async () => {
  port = await freePort();
  authPort = await freePort();
  mcpOrigin = `http://127.0.0.1:${port}`;
  asOrigin = `http://127.0.0.1:${authPort}`;
  mcp = await spawnMcpd({ name: 'oauth-degraded-mcp', env, waitPorts: [port],
    args: ['mcp', ...common(), '--features', 'reference', '--auth-check-interval-ms', String(CHECK_MS), '--introspection-cache-ms', '0'] });
});

after(async () => {
  const r = await Promise.allSettled([mcp?.stop(), auth?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

const health = async () => (await (await fetch(`${mcpOrigin}/health`)).json());

function degradedBody() {
  return JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Authentication service unavailable',
    data: { authServerUrl: asOrigin, hint: 'The authentication server is not responding. Please ensure it is running and try again.' } },
  id: null });
}

async function assertDegraded() {
  const h = await waitFor(async () => { const x = await health(); return x.status === 'degraded' ? x : null; }, 15000, '/health degraded');
  assert.equal(h.services.auth, 'unavailable');
  assert.equal(h.services.mcp, 'operational');
  assert.equal(h.authServerUrl, asOrigin);

  // Every MCP route, with or without a token: 503 and the peer's exact body.
  const post = (path, headers = {}) => fetch(`${mcpOrigin}${path}`, { method: 'POST', body: JSON.stringify(INIT),
    headers: { Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', ...headers } });
  for (const res of [await post('/mcp'), await post('/mcp', { Authorization: `Bearer ${'a'.repeat(64)}` }),
    await fetch(`${mcpOrigin}/sse`, { headers: { Accept: 'text/event-stream' } }), await post('/message?sessionId=x')]) {
    assert.equal(res.status, 503, res.url);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(await res.text(), degradedBody(), res.url);
  }
  const md = await fetch(`${mcpOrigin}/.well-known/oauth-authorization-server`);
  assert.equal(md.status, 503);
  assert.deepEqual(await md.json(), { error: 'service_unavailable',
    error_description: 'Authentication server is currently unavailable. Please try again later.' });

  const splash = await fetch(`${mcpOrigin}/`);
  assert.equal(splash.status, 200);
  const html = await splash.text();
  assert.ok(html.includes('Authentication Service Unavailable - Server Running in Degraded Mode'), 'banner');
  assert.ok(!/[\u{2190}-\u{2BFF}\u{FE0F}\u{1F000}-\u{1FFFF}]/u.test(html), 'no emoji in the banner or page');
  assert.ok(html.includes(asOrigin), 'the banner names the AS');
}

async function assertRecovers() {
  const t0 = Date.now();
  const h = await waitFor(async () => { const x = await health(); return x.status === 'healthy' ? x : null; }, 15000, '/health healthy');
  assert.equal(h.services.auth, 'operational');
  const { tokens } = await login(asOrigin);
  const r = await mcpPost(`${mcpOrigin}/mcp`, tokens.access_token, INIT);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.serverInfo.name, 'example-servers/feature-reference');
  const splash = await (await fetch(`${mcpOrigin}/`)).text();
  assert.ok(!splash.includes('Degraded Mode'), 'no banner once healthy');
  return Date.now() - t0;
}

test('no AS at startup: degraded (503 with the peer body, /health, banner); recovers when mcpd auth starts', async (t) => {
  await assertDegraded();
  auth = await startAuth();
  t.diagnostic(`recovered ${await assertRecovers()} ms after the AS listened`);
});

test('AS lost after a good start: degraded again on the next token check; recovers when it is back', async (t) => {
  let t0 = Date.now();
  await auth.stop();
  t.diagnostic(`auth stopped in ${Date.now() - t0} ms`);
  t0 = Date.now();
  auth = undefined;
  // A token check now fails on the network: that, not a timer, notices the loss.
  const r = await mcpPost(`${mcpOrigin}/mcp`, 'b'.repeat(64), INIT);
  assert.equal(r.status, 503, r.text);
  assert.equal(r.text, degradedBody());
  t.diagnostic(`503 after ${Date.now() - t0} ms`);
  await assertDegraded();
  auth = await startAuth();
  await assertRecovers();
});

test('mcpd mcp and mcpd auth stop cleanly on SIGTERM with no sanitizer report', async () => {
  await mcp.stop(); // first: its pooled connection to the AS would hold the AS's exit (linger)
  await auth.stop();
});
