// The real OAuth flow with the official TypeScript SDK (1.32.2) against mcpd's authorization server
// and MCP role (conformance.md §4.3, reference-spec §4, §9.5): discovery from the 401 (RFC 9728
// protected resource metadata → RFC 8414 AS metadata), RFC 7591 dynamic registration, PKCE S256
// with the RFC 8707 resource, the token exchange, then a full MCP session with the bearer token.
// A headless OAuthClientProvider plays the browser (mcpd's /authorize answers its consent page, so
// the provider takes the code from the page and drives the mock IdP callback).
//
// Also: token refresh through the transport when the access token expires (rotation; the old
// refresh token is refused afterwards) and through auth(); the SDK on legacy /sse with the token;
// the MCP Inspector CLI with --header over /mcp and /sse, and without a token (--stored-auth-only:
// exit 3, auth required).
//
// The wire sequence of one login (method, which server, path, parameter names, status; never a
// token) is printed as test diagnostics and written to build/test-logs/oauth-wire-<build>.txt.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';

import { ROOT } from './lib/server.mjs';
import {
  HeadlessProvider, REDIRECT_URI, TOOL_NAMES, clientAuth, formatWire, login, mcpPost, postForm, recordingFetch,
  startOAuthServers, waitFor,
} from './lib/oauth.mjs';

const INSPECTOR = path.join(ROOT, 'tests/integration/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');

let split; // `mcpd auth` + `mcpd mcp`, shared INTROSPECTION_SECRET, default lifetimes
let short; // `mcpd all` with 3 s access tokens, for the refresh test

before(async () => {
  [split, short] = await Promise.all([
    startOAuthServers({ name: 'oauth-sdk', mode: 'split' }),
    startOAuthServers({ name: 'oauth-sdk-short', args: ['--access-token-ttl-s', '3'] }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([split?.stop(), short?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

/** Connect an SDK client through the OAuth flow; resolves to { client, transport }. */
async function connectWithOAuth(srv, provider, fetchFn) {
  const url = new URL(srv.mcpUrl);
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
  const c1 = new Client({ name: 'oauth-sdk', version: '1.0.0' });
  await assert.rejects(c1.connect(first), (e) => e instanceof UnauthorizedError, 'the first connect needs authorization');
  assert.match(provider.code ?? '', /^[0-9a-f]{64}$/, 'the provider got the code from the Location header');
  await first.finishAuth(provider.code);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: fetchFn });
  const client = new Client({ name: 'oauth-sdk', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function fullSession(client) {
  const tools = (await client.listTools()).tools;
  assert.equal(tools.length, 7);
  assert.deepEqual(tools.map((t) => t.name), TOOL_NAMES);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'OAuth works' } });
  assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: OAuth works' }]);
  assert.deepEqual(await client.ping(), {});
}

describe('SDK OAuth login (split auth + mcp processes)', () => {
  test('discovery from the 401, DCR, PKCE S256 with resource, token, then a full MCP session', async (t) => {
    const records = [];
    const fetchFn = recordingFetch(records);
    const provider = new HeadlessProvider({ fetchFn });
    const { client, transport } = await connectWithOAuth(split, provider, fetchFn);
    await fullSession(client);
    await transport.terminateSession();
    await client.close();

    // What the SDK sent to /authorize (RFC 7636, RFC 8707, the 401's scope).
    const a = provider.authorizationUrls[0];
    assert.equal(a.origin + a.pathname, `${split.asOrigin}/authorize`);
    assert.equal(a.searchParams.get('response_type'), 'code');
    assert.equal(a.searchParams.get('code_challenge_method'), 'S256');
    assert.match(a.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(a.searchParams.get('resource'), split.mcpUrl);
    assert.equal(a.searchParams.get('scope'), 'mcp');
    assert.equal(a.searchParams.get('redirect_uri'), REDIRECT_URI);
    assert.equal(provider.clientInformation().token_endpoint_auth_method, 'none');
    assert.equal(provider.clientInformation().client_secret, undefined, 'a public client gets no secret');
    const tok = provider.tokens();
    assert.equal(tok.token_type, 'Bearer');
    assert.equal(tok.scope, 'mcp');
    assert.equal(tok.expires_in, 3600);
    assert.match(tok.access_token, /^\S{32,}$/);
    assert.ok(tok.refresh_token);

    const names = { [split.mcpOrigin]: 'MCP', [split.asOrigin]: 'AS ' };
    const lines = formatWire(records, names);
    for (const l of lines) t.diagnostic(l);
    const dir = path.join(ROOT, 'build/test-logs');
    mkdirSync(dir, { recursive: true });
    const label = path.basename(path.dirname(path.resolve(ROOT, process.env.MCPD_BIN ?? 'build/mcpd')));
    writeFileSync(path.join(dir, `oauth-wire-${label}.txt`), `${lines.join('\n')}\n`);

    // The login, in order (other requests may sit between these: the SDK re-discovers).
    const want = [
      ['POST', 'MCP', '/mcp', 401],
      ['GET', 'MCP', '/.well-known/oauth-protected-resource/mcp', 200],
      ['GET', 'AS ', '/.well-known/oauth-authorization-server', 200],
      ['POST', 'AS ', '/register', 201],
      ['GET', 'AS ', '/authorize', 200],
      ['GET', 'AS ', '/mock-upstream-idp/callback', 302],
      ['POST', 'AS ', '/token', 200],
      ['POST', 'MCP', '/mcp', 200],
    ];
    let i = 0;
    for (const r of records) {
      const w = want[i];
      if (w && r.method === w[0] && names[r.origin] === w[1] && r.path === w[2] && r.status === w[3]) i++;
    }
    assert.equal(i, want.length, `login sequence incomplete at step ${i} (${want[i]}):\n${lines.join('\n')}`);
    assert.deepEqual(records.filter((r) => r.status >= 400).map((r) => `${r.method} ${r.path} ${r.status}`), ['POST /mcp 401'],
      `only the first request fails:\n${lines.join('\n')}`);
    const tokenReq = records.find((r) => r.path === '/token');
    assert.equal(tokenReq.rpc, 'grant_type=authorization_code');
  });

  test('the SDK on legacy /sse with the bearer token: 7 tools, echo', async () => {
    const { tokens } = await login(split.asOrigin, { resource: split.mcpUrl });
    const headers = { Authorization: `Bearer ${tokens.access_token}` };
    const transport = new SSEClientTransport(new URL(`${split.mcpOrigin}/sse`), {
      requestInit: { headers },
      eventSourceInit: { fetch: (u, i) => fetch(u, { ...i, headers: { ...i?.headers, ...headers } }) },
    });
    const client = new Client({ name: 'oauth-sse', version: '1.0.0' });
    await client.connect(transport);
    await fullSession(client);
    await client.close();
  });

  test('the SDK on /sse without a token is refused (401)', async () => {
    const transport = new SSEClientTransport(new URL(`${split.mcpOrigin}/sse`));
    const client = new Client({ name: 'oauth-sse', version: '1.0.0' });
    await assert.rejects(client.connect(transport), (e) => e.code === 401 || /401|Unauthorized/i.test(String(e.message)));
    await client.close().catch(() => {});
  });
});

describe('SDK token refresh (mcpd all, 3 s access tokens)', () => {
  test('an expired access token is refreshed by the transport, the session goes on, the old refresh token is refused', async () => {
    const records = [];
    const fetchFn = recordingFetch(records);
    const provider = new HeadlessProvider({ fetchFn });
    const { client, transport } = await connectWithOAuth(short, provider, fetchFn);
    const sessionId = transport.sessionId;
    assert.ok(sessionId);
    const first = provider.tokens();
    assert.equal(first.expires_in, 3);
    assert.equal((await client.listTools()).tools.length, 7);

    // Wait until the MCP role refuses the access token (its 3 s are up), asking it directly, not
    // the SDK; then use the same session: the MCP role answers 401 invalid_token, the SDK
    // refreshes (grant_type=refresh_token) and retries.
    await waitFor(async () => (await mcpPost(short.mcpUrl, first.access_token, { jsonrpc: '2.0', id: 'probe', method: 'ping' },
      { 'Mcp-Session-Id': sessionId, 'MCP-Protocol-Version': transport.protocolVersion })).status === 401, 15000,
    'the first access token to be refused');
    const before = records.length;
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: after refresh' }]);
    const seq = records.slice(before).map((r) => `${r.method} ${r.path} ${r.rpc} ${r.status}`);
    assert.ok(seq.some((s) => s === 'POST /mcp tools/call 401'), seq.join('\n'));
    assert.ok(seq.some((s) => s === 'POST /token grant_type=refresh_token 200'), seq.join('\n'));
    assert.equal(seq.at(-1), 'POST /mcp tools/call 200');
    assert.equal(transport.sessionId, sessionId, 'the session survives the refresh (same user)');
    const second = provider.tokens();
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token is rotated');

    // auth() with a stored refresh token refreshes again without any user step.
    assert.equal(await auth(provider, { serverUrl: new URL(short.mcpUrl), fetchFn }), 'AUTHORIZED');
    const third = provider.tokens();
    assert.notEqual(third.refresh_token, second.refresh_token);
    assert.deepEqual(await client.ping(), {});
    await transport.terminateSession();
    await client.close();

    // The rotated-out refresh token is refused (and, as reuse, revokes the family:
    // oauth-attacks.test.mjs checks that part).
    const r = await postForm(short.asOrigin, '/token', { grant_type: 'refresh_token', ...clientAuth(provider.clientInformation()),
      refresh_token: first.refresh_token });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_grant');
    assert.ok(r.json.error_description);
  });
});

// ------------------------------------------------------------------------- Inspector ----

let inspectorHome;
before(() => { inspectorHome = mkdtempSync(path.join(os.tmpdir(), 'mcpd-inspector-')); });
after(() => { if (inspectorHome) rmSync(inspectorHome, { recursive: true, force: true }); });

/** Run the Inspector CLI with a private HOME (no stored OAuth state from elsewhere). */
function inspector(url, transport, ...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [INSPECTOR, '--cli', url, '--transport', transport, '--format', 'json', ...args],
      { timeout: 30000, env: { ...process.env, NO_COLOR: '1', HOME: inspectorHome,
        MCP_INSPECTOR_OAUTH_STATE_PATH: path.join(inspectorHome, 'oauth-state.json') } },
      (err, stdout, stderr) => {
        // The result goes to stdout; an error envelope ({"error":{"code":…}}) to stderr.
        let json = null;
        try { json = JSON.parse(stdout || stderr); } catch { /* the assertion shows both */ }
        resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr, json });
      });
  });
}

describe('Inspector CLI with a bearer token', () => {
  let token;
  before(async () => { token = (await login(split.asOrigin, { resource: split.mcpUrl })).tokens.access_token; });

  for (const transport of ['http', 'sse']) {
    test(`--transport ${transport} --header Authorization: tools/list exits 0 with 7 tools`, async () => {
      const url = transport === 'http' ? split.mcpUrl : `${split.mcpOrigin}/sse`;
      const r = await inspector(url, transport, '--header', `Authorization: Bearer ${token}`, '--method', 'tools/list');
      assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.json?.result?.tools?.length, 7);
      assert.deepEqual(r.json?.result?.tools?.map((x) => x.name), TOOL_NAMES);
    });

    test(`--transport ${transport} without a token, --stored-auth-only: exit 3 (auth required)`, async () => {
      const url = transport === 'http' ? split.mcpUrl : `${split.mcpOrigin}/sse`;
      const r = await inspector(url, transport, '--stored-auth-only', '--method', 'tools/list');
      assert.equal(r.code, 3, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.json?.error?.code, 'auth_required', `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      // Over http the Inspector quotes the 401 body; its SSE client only the status.
      assert.match(r.json.error.message, transport === 'http' ? /Missing Authorization header/ : /\b401\b/);
    });

    test(`--transport ${transport} with a garbage token, --stored-auth-only: exit 3`, async () => {
      const url = transport === 'http' ? split.mcpUrl : `${split.mcpOrigin}/sse`;
      const r = await inspector(url, transport, '--stored-auth-only', '--header', 'Authorization: Bearer not-a-token', '--method', 'tools/list');
      assert.equal(r.code, 3, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.json?.error?.code, 'auth_required', `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    });
  }
});

test('every mcpd (auth, mcp, all) stops cleanly on SIGTERM with no sanitizer report', async () => {
  await split.stop();
  await short.stop();
});
