// Scopes, on both sides (RFC 6749 §3.3, RFC 6750 §3.1):
// - the MCP role requires the `mcp` scope of every token. mcpd's own authorization server never
//   issues a token without it, and the MCP role accepts tokens from any RFC 7662 authorization
//   server, so a third-party one is played here by a small node HTTP server that answers
//   metadata and /introspect the way such a server would, with tokens of other scopes;
// - mcpd's authorization server grants only the scopes it supports, whatever a client registered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { INIT, authorize, login, mcpPost, pkce, register, startOAuthServers } from './lib/oauth.mjs';
import { freePort, spawnMcpd } from './lib/server.mjs';

const SECRET = 'scope-test-introspection-secret';

/** The third-party server's token for a scope: the scope itself, in a form a Bearer token may take. */
const tokenFor = (scope) => `s.${Buffer.from(scope).toString('base64url')}`;

/** An RFC 7662 authorization server whose tokens carry their scope (tokenFor). */
async function startThirdPartyAs(mcpOrigin) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.end(JSON.stringify({ issuer: origin, authorization_endpoint: `${origin}/authorize`, token_endpoint: `${origin}/token`,
          introspection_endpoint: `${origin}/introspect`, response_types_supported: ['code'] }));
      } else if (req.url === '/introspect' && req.method === 'POST') {
        const token = new URLSearchParams(body).get('token') ?? '';
        const m = /^s\.([A-Za-z0-9_-]*)$/.exec(token);
        res.end(JSON.stringify(m ? { active: true, sub: 'third-party-user', client_id: 'c1',
          scope: Buffer.from(m[1], 'base64url').toString(),
          aud: `${mcpOrigin}/mcp`, exp: Math.floor(Date.now() / 1000) + 600, iat: Math.floor(Date.now() / 1000) } : { active: false }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { origin, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('the MCP role requires the mcp scope', () => {
  let as;
  let mcp;
  let mcpOrigin;

  before(async () => {
    const port = await freePort();
    mcpOrigin = `http://127.0.0.1:${port}`;
    as = await startThirdPartyAs(mcpOrigin);
    mcp = await spawnMcpd({
      name: 'scope-mcp', waitPorts: [port],
      args: ['mcp', '--port', String(port), '--base-uri', mcpOrigin, '--auth-server-url', as.origin,
        '--introspection-cache-ms', '0'],
      env: { INTROSPECTION_SECRET: SECRET },
    });
  });

  after(async () => {
    const r = await Promise.allSettled([mcp?.stop(), as?.close()]);
    for (const x of r) if (x.status === 'rejected') throw x.reason;
  });

  const challenge = (path) => `resource_metadata="${mcpOrigin}/.well-known/oauth-protected-resource${path}", scope="mcp"`;

  for (const scope of ['profile', 'admin superuser', '', 'mcpx', 'mcp:read']) {
    test(`a token with scope "${scope}": 403 insufficient_scope on /mcp and /sse`, async () => {
      const want = { error: 'insufficient_scope', error_description: 'Token lacks the required scope: mcp' };
      const r = await mcpPost(`${mcpOrigin}/mcp`, tokenFor(scope), INIT);
      assert.equal(r.status, 403, r.text);
      assert.deepEqual(r.json, want);
      assert.equal(r.headers.get('www-authenticate'),
        `Bearer error="insufficient_scope", error_description="${want.error_description}", ${challenge('/mcp')}`);
      const sse = await fetch(`${mcpOrigin}/sse`, { headers: { Accept: 'text/event-stream', Authorization: `Bearer ${tokenFor(scope)}` } });
      assert.equal(sse.status, 403);
      assert.deepEqual(await sse.json(), want);
      assert.match(sse.headers.get('www-authenticate'), /^Bearer error="insufficient_scope", .*oauth-protected-resource\/sse"/);
    });
  }

  for (const scope of ['mcp', 'profile mcp', 'mcp offline_access']) {
    test(`a token with scope "${scope}" initializes`, async () => {
      const r = await mcpPost(`${mcpOrigin}/mcp`, tokenFor(scope), INIT);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.headers.get('mcp-session-id'));
    });
  }

  test('an inactive token is still 401 invalid_token, not 403', async () => {
    const r = await mcpPost(`${mcpOrigin}/mcp`, 'garbage', INIT);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, 'invalid_token');
  });
});

describe('the authorization server grants only the scopes it supports', () => {
  let srv;
  before(async () => {
    srv = await startOAuthServers({ name: 'scope-as' });
  });
  after(async () => {
    await srv?.stop();
  });

  test('a client registered for "admin superuser" asking for admin: redirected invalid_scope, no code', async () => {
    const client = await register(srv.asOrigin, { scope: 'admin superuser' });
    for (const scope of ['admin', 'admin superuser', 'mcp admin']) {
      const a = await authorize(srv.asOrigin, client, { challenge: pkce().challenge, scope, state: 'sc' });
      assert.equal(a.res.status, 302, `${scope}: ${a.res.status} ${a.text}`);
      assert.equal(a.code, null);
      const loc = new URL(a.res.headers.get('location'));
      assert.equal(loc.searchParams.get('error'), 'invalid_scope');
      assert.equal(loc.searchParams.get('error_description'), 'Unsupported scope (supported: mcp)');
      assert.equal(loc.searchParams.get('state'), 'sc');
      assert.equal(loc.searchParams.get('code'), null);
    }
  });

  test('the same client without a scope parameter gets an mcp token, which works', async () => {
    const client = await register(srv.asOrigin, { scope: 'admin superuser' });
    const { tokens } = await login(srv.asOrigin, { client });
    assert.equal(tokens.scope, 'mcp');
    const r = await mcpPost(srv.mcpUrl, tokens.access_token, INIT);
    assert.equal(r.status, 200, r.text);
  });

  test('scopes_supported in the metadata is exactly ["mcp"]', async () => {
    const m = await (await fetch(`${srv.asOrigin}/.well-known/oauth-authorization-server`)).json();
    assert.deepEqual(m.scopes_supported, ['mcp']);
  });
});
