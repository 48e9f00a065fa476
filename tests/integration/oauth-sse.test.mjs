// OAuth discovery starting from the legacy HTTP+SSE transport. A client configured with the `/sse`
// URL and nothing else must be able to log in from the 401 alone: the challenge on `GET /sse` and
// `POST /message` names the RFC 9728 metadata of the `/sse` resource, whose `resource` is the
// `/sse` URL (the official SDK refuses a `resource` that is not a prefix of the URL it connects
// to), and a token issued for that resource is accepted.
//
// The official TypeScript SDK (SSEClientTransport with a headless OAuthClientProvider) walks the
// whole login with no token fetched beforehand; its wire sequence (method, server, path, parameter
// names, status; never a token) is asserted, printed as test diagnostics and written to
// build/test-logs/oauth-sse-wire-<build>.txt. Raw checks pin the exact challenges and metadata
// documents (the /mcp ones unchanged) and the audience rule: BASE_URI, BASE_URI/mcp and
// BASE_URI/sse are one resource server, each accepted on every MCP route. With 5 s access tokens,
// an expired token on POST /message makes the SDK refresh through the /sse metadata and resend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { ROOT } from './lib/server.mjs';
import {
  HeadlessProvider, REDIRECT_URI, TOOL_NAMES, bearer, formatWire, login, mcpPost, openSession, recordingFetch,
  sleep, startOAuthServers, waitFor,
} from './lib/oauth.mjs';

const SHORT_TTL_S = 5; // long enough for a login on the sanitizer build, short enough to wait out
const SSE_OPEN_MS = 20000; // ceiling for the endpoint event of a raw /sse stream
const SETTLE_MS = 20000; // ceiling for the last POST /message to be answered

let srv; // `mcpd all`, default lifetimes
let short; // `mcpd all --access-token-ttl-s 5`

before(async () => {
  [srv, short] = await Promise.all([
    startOAuthServers({ name: 'oauth-sse' }),
    startOAuthServers({ name: 'oauth-sse-short', args: ['--access-token-ttl-s', String(SHORT_TTL_S)] }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([srv?.stop(), short?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

const sseUrl = (s) => `${s.mcpOrigin}/sse`;
const prmUrl = (s, suffix) => `${s.mcpOrigin}/.well-known/oauth-protected-resource${suffix}`;
const challenge = (s, suffix) => `Bearer resource_metadata="${prmUrl(s, suffix)}", scope="mcp"`;
const MISSING = '{"error":"invalid_token","error_description":"Missing Authorization header"}';

/** The metadata document mcpd serves for one resource, as exact text (the AS's issuer is AUTH_SERVER_URL, its origin). */
function prmText(s, resource) {
  return JSON.stringify({ resource, authorization_servers: [s.asOrigin], scopes_supported: ['mcp'],
    bearer_methods_supported: ['header'], resource_name: 'mcpd' });
}

/**
 * Log in from scratch through SSEClientTransport: the first connect gets the 401, discovers, registers
 * and authorizes (the provider walks the consent page and the mock IdP) and rejects with
 * UnauthorizedError; finishAuth exchanges the code; a second transport connects with the token.
 */
async function connectSseWithOAuth(s, provider, fetchFn) {
  const url = new URL(sseUrl(s));
  const first = new SSEClientTransport(url, { authProvider: provider, fetch: fetchFn });
  const c1 = new Client({ name: 'oauth-sse', version: '1.0.0' });
  const refused = await c1.connect(first).then(() => null, (e) => e);
  await c1.close();
  // Anything but UnauthorizedError (e.g. "Protected resource … does not match expected …/sse") is
  // a failed discovery: show it.
  assert.ok(refused instanceof UnauthorizedError, `the first connect needs authorization, got: ${refused?.stack ?? refused}`);
  assert.match(provider.code ?? '', /^[0-9a-f]{64}$/, 'the provider got the code from the Location header');
  await first.finishAuth(provider.code);
  const transport = new SSEClientTransport(url, { authProvider: provider, fetch: fetchFn });
  const client = new Client({ name: 'oauth-sse', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/**
 * A call's answer comes over the SSE stream, possibly before the 202 of its POST /message: wait
 * until n POSTs to /message after records[from] are answered, before closing the client (which
 * would abort a POST still in flight) or reading the records.
 */
async function settle(records, from, n) {
  await waitFor(() => records.slice(from).filter((r) => r.path === '/message').length >= n, SETTLE_MS,
    `${n} POST /message answered`);
}

/** Every line of the wire log to the diagnostics and to build/test-logs/<name>-<build>.txt. */
function keepWire(t, lines, name) {
  for (const l of lines) t.diagnostic(l);
  const dir = path.join(ROOT, 'build/test-logs');
  mkdirSync(dir, { recursive: true });
  const label = path.basename(path.dirname(path.resolve(ROOT, process.env.MCPD_BIN ?? 'build/mcpd')));
  writeFileSync(path.join(dir, `${name}-${label}.txt`), `${lines.join('\n')}\n`);
}

/** Assert that `want` ([method, server, path, status]) occurs in order within the records. */
function assertSubsequence(records, names, want, lines) {
  let i = 0;
  for (const r of records) {
    const w = want[i];
    if (w && r.method === w[0] && names[r.origin] === w[1] && r.path === w[2] && r.status === w[3]) i++;
  }
  assert.equal(i, want.length, `sequence incomplete at step ${i} (${want[i]}):\n${lines.join('\n')}`);
}

/**
 * GET /sse with a token, raw: resolves to { status, headers, text } where text is the body up to
 * the endpoint event (200) or the whole body (otherwise). The stream is closed afterwards.
 */
async function rawSse(s, token) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error(`no endpoint event within ${SSE_OPEN_MS} ms`)), SSE_OPEN_MS);
  try {
    const res = await fetch(sseUrl(s), { headers: { Accept: 'text/event-stream', ...bearer(token) }, signal: ctl.signal });
    if (res.status !== 200) return { status: res.status, headers: res.headers, text: await res.text() };
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!/event: endpoint\ndata: [^\n]*\n\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    return { status: res.status, headers: res.headers, text };
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

async function postMessage(s, token, sessionId = '00000000-0000-4000-8000-000000000000') {
  const res = await fetch(`${s.mcpOrigin}/message?sessionId=${sessionId}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('SDK OAuth login starting from /sse (mcpd all)', () => {
  test('discovery from the 401 on GET /sse, /sse metadata, DCR, PKCE, token, then a working session', async (t) => {
    const records = [];
    const fetchFn = recordingFetch(records);
    const provider = new HeadlessProvider({ fetchFn });
    const { client } = await connectSseWithOAuth(srv, provider, fetchFn);
    const tools = (await client.listTools()).tools;
    assert.deepEqual(tools.map((x) => x.name), TOOL_NAMES);
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'discovered from /sse' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: discovered from /sse' }]);
    assert.deepEqual(await client.ping(), {});
    await settle(records, 0, 5);
    await client.close();

    // What the SDK asked the AS for: the /sse resource, the challenge's scope.
    assert.equal(provider.authorizationUrls.length, 1);
    const a = provider.authorizationUrls[0];
    assert.equal(a.origin + a.pathname, `${srv.asOrigin}/authorize`);
    assert.equal(a.searchParams.get('resource'), sseUrl(srv));
    assert.equal(a.searchParams.get('scope'), 'mcp');
    assert.equal(a.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(a.searchParams.get('redirect_uri'), REDIRECT_URI);
    const tok = provider.tokens();
    assert.equal(tok.token_type, 'Bearer');
    assert.equal(tok.scope, 'mcp');
    assert.ok(tok.refresh_token);

    const names = { [srv.mcpOrigin]: 'MCP', [srv.asOrigin]: 'AS ' };
    const lines = formatWire(records, names);
    keepWire(t, lines, 'oauth-sse-wire');
    assertSubsequence(records, names, [
      ['GET', 'MCP', '/sse', 401],
      ['GET', 'MCP', '/.well-known/oauth-protected-resource/sse', 200],
      ['GET', 'AS ', '/.well-known/oauth-authorization-server', 200],
      ['POST', 'AS ', '/register', 201],
      ['GET', 'AS ', '/authorize', 200],
      ['GET', 'AS ', '/mock-upstream-idp/callback', 302],
      ['POST', 'AS ', '/token', 200],
      ['GET', 'MCP', '/sse', 200],
      ['POST', 'MCP', '/message', 202],
    ], lines);
    assert.deepEqual(records.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`), ['GET /sse 401'],
      `only the first request fails:\n${lines.join('\n')}`);
    // Everything came from the challenge: no guessed well-known paths, nothing about /mcp.
    const mcpSide = records.filter((r) => names[r.origin] === 'MCP').map((r) => r.path);
    assert.deepEqual([...new Set(mcpSide)].sort(), ['/.well-known/oauth-protected-resource/sse', '/message', '/sse']);
    assert.equal(records.find((r) => r.path === '/token').rpc, 'grant_type=authorization_code');
    assert.deepEqual(records.filter((r) => r.path === '/message').map((r) => r.rpc),
      ['initialize', 'notifications/initialized', 'tools/list', 'tools/call', 'ping']);
  });
});

describe('raw challenges and metadata', () => {
  test('GET /sse without a token: 401 naming the /sse metadata', async () => {
    const r = await rawSse(srv, undefined);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), challenge(srv, '/sse'));
    assert.equal(r.text, MISSING);
  });

  test('POST /message without a token: 401 naming the /sse metadata', async () => {
    const r = await postMessage(srv, undefined);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), challenge(srv, '/sse'));
    assert.equal(r.text, MISSING);
  });

  test('GET /sse and POST /message with an unknown token: invalid_token naming the /sse metadata', async () => {
    const want = `Bearer error="invalid_token", error_description="Token is not active", `
      + `resource_metadata="${prmUrl(srv, '/sse')}", scope="mcp"`;
    for (const r of [await rawSse(srv, 'not-a-token'), await postMessage(srv, 'not-a-token')]) {
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), want);
      assert.equal(r.text, '{"error":"invalid_token","error_description":"Token is not active"}');
    }
  });

  test('POST /mcp without a token: the challenge still names the /mcp metadata', async () => {
    const r = await mcpPost(srv.mcpUrl, undefined, { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), challenge(srv, '/mcp'));
    assert.equal(r.text, MISSING);
  });

  test('the metadata documents: /sse new, /mcp and the root unchanged', async () => {
    const cases = [['/sse', sseUrl(srv)], ['/mcp', srv.mcpUrl], ['', srv.mcpOrigin]];
    for (const [suffix, resource] of cases) {
      const res = await fetch(prmUrl(srv, suffix));
      assert.equal(res.status, 200, suffix);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.equal(await res.text(), prmText(srv, resource), suffix);
    }
    const none = await fetch(prmUrl(srv, '/message'));
    assert.equal(none.status, 404, 'no metadata for /message: clients connect to /sse');
    await none.arrayBuffer();
  });
});

describe('audience: BASE_URI, /mcp and /sse are one resource server', () => {
  test('a token for the /sse resource opens an /sse stream and a /mcp session', async () => {
    const { tokens } = await login(srv.asOrigin, { resource: sseUrl(srv) });
    const s = await rawSse(srv, tokens.access_token);
    assert.equal(s.status, 200, s.text);
    assert.match(s.text, /^event: endpoint\ndata: \/message\?sessionId=[0-9a-f-]{36}\n\n$/);
    const sid = await openSession(srv.mcpUrl, tokens.access_token);
    assert.match(sid, /^[0-9a-f-]{36}$/);
    const del = await fetch(srv.mcpUrl, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid, ...bearer(tokens.access_token) } });
    assert.equal(del.status, 200);
    await del.arrayBuffer();
  });

  test('tokens for BASE_URI and for /mcp open an /sse stream', async () => {
    for (const resource of [srv.mcpOrigin, srv.mcpUrl]) {
      const { tokens } = await login(srv.asOrigin, { resource });
      const s = await rawSse(srv, tokens.access_token);
      assert.equal(s.status, 200, `${resource}: ${s.text}`);
      assert.match(s.text, /event: endpoint\n/);
    }
  });

  test('a token for another server\'s /sse is refused on /sse, /message and /mcp', async () => {
    const { tokens } = await login(srv.asOrigin, { resource: 'http://other.example/sse' });
    const msg = 'Token was not issued for this resource server';
    const body = JSON.stringify({ error: 'invalid_token', error_description: msg });
    const head = (suffix) => `Bearer error="invalid_token", error_description="${msg}", `
      + `resource_metadata="${prmUrl(srv, suffix)}", scope="mcp"`;
    const sse = await rawSse(srv, tokens.access_token);
    const message = await postMessage(srv, tokens.access_token);
    const mcp = await mcpPost(srv.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' });
    for (const [r, suffix] of [[sse, '/sse'], [message, '/sse'], [mcp, '/mcp']]) {
      assert.equal(r.status, 401, suffix);
      assert.equal(r.headers.get('www-authenticate'), head(suffix));
      assert.equal(r.text, body);
    }
  });
});

describe('refresh from POST /message (mcpd all, 5 s access tokens)', () => {
  test('an expired token on /message: the SDK refreshes through the /sse metadata and resends', async (t) => {
    const records = [];
    const fetchFn = recordingFetch(records);
    const provider = new HeadlessProvider({ fetchFn });
    let savedAt = 0;
    const save = provider.saveTokens.bind(provider);
    provider.saveTokens = (x) => { savedAt = Date.now(); save(x); };
    const { client } = await connectSseWithOAuth(short, provider, fetchFn);
    const first = provider.tokens();
    assert.equal(first.expires_in, SHORT_TTL_S);

    // The AS set exp to at most SHORT_TTL_S after the token was saved; past that it is refused.
    await sleep(Math.max(0, savedAt + SHORT_TTL_S * 1000 + 300 - Date.now()));
    const before = records.length;
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: after refresh' }]);
    await settle(records, before, 2); // the refused POST and the one resent
    await client.close();

    const names = { [short.mcpOrigin]: 'MCP', [short.asOrigin]: 'AS ' };
    const lines = formatWire(records.slice(before), names);
    for (const l of lines) t.diagnostic(l);
    assertSubsequence(records.slice(before), names, [
      ['POST', 'MCP', '/message', 401],
      ['GET', 'MCP', '/.well-known/oauth-protected-resource/sse', 200],
      ['POST', 'AS ', '/token', 200],
      ['POST', 'MCP', '/message', 202],
    ], lines);
    assert.deepEqual(records.slice(before).filter((r) => r.path === '/token').map((r) => r.rpc), ['grant_type=refresh_token'],
      lines.join('\n'));
    const second = provider.tokens();
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token is rotated');
  });
});

test('every mcpd started here stops cleanly on SIGTERM with no sanitizer report', async () => {
  await srv.stop();
  await short.stop();
});
