// The attack table: every way a client can try to get past mcpd's authorization server or its
// bearer check, each asserted with the status code AND the error body (DESIGN.md §5–6,
// reference-spec §4.5–4.10, §5.8, RFC 6749/6750/7009/7636/8707, OAuth 2.1 §4.3.1 refresh rotation).
//
// Two `mcpd all`: `main` with --introspection-cache-ms 0 (revocation shows at once) and `ttl1` with
// 1-second access tokens for the expiry case. Users are the mock IdP's userId, so user A and user B
// are two logins with different userId values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  INIT, REDIRECT_URI, authorize, bearer, clientAuth, idpCallback, login, mcpPost, openSession, pkce, postForm, register,
  sleep, startOAuthServers, waitFor,
} from './lib/oauth.mjs';
import { openLegacySse } from './lib/sse.mjs';

let main;
let ttl1;

before(async () => {
  [main, ttl1] = await Promise.all([
    startOAuthServers({ name: 'oauth-attacks', args: ['--introspection-cache-ms', '0'] }),
    startOAuthServers({ name: 'oauth-attacks-ttl1', args: ['--access-token-ttl-s', '1'] }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([main?.stop(), ttl1?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

// /sse and /message name the /sse resource's metadata, /mcp its own: a client checks that the
// metadata's `resource` matches the URL it was given.
const prm = (srv, path = '/mcp') => `resource_metadata="${srv.mcpOrigin}/.well-known/oauth-protected-resource${path}"`;

/** 401 from the MCP role: the RFC 6750 challenge and the peer's JSON body. */
function assert401(srv, r, description, { tokenSent = true, prmPath = '/mcp' } = {}) {
  assert.equal(r.status, 401, `want 401, got ${r.status}: ${r.text}`);
  const www = r.headers.get('www-authenticate');
  if (tokenSent) {
    assert.equal(www, `Bearer error="invalid_token", error_description="${description}", ${prm(srv, prmPath)}, scope="mcp"`);
  } else {
    // RFC 6750 §3.1: no error code when the request carried no credentials.
    assert.equal(www, `Bearer ${prm(srv, prmPath)}, scope="mcp"`);
  }
  assert.deepEqual(r.json, { error: 'invalid_token', error_description: description });
}

function assertOAuthError(r, status, error, description) {
  assert.equal(r.status, status, `want ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.res.headers.get('content-type') ?? '', /^application\/json/);
  if (description === undefined) {
    assert.equal(r.json?.error, error, r.text);
    assert.equal(typeof r.json.error_description, 'string');
  } else {
    assert.deepEqual(r.json, { error, error_description: description });
  }
}

const SESSION_NOT_FOUND = { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null };

/** A request with any method and headers on an MCP route; resolves to { status, headers, text, json }. */
async function raw(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json, res };
}

describe('bearer check on the MCP role', () => {
  test('no token: 401, WWW-Authenticate without an error parameter, on /mcp, /sse and /message', async () => {
    assert401(main, await mcpPost(main.mcpUrl, undefined, INIT), 'Missing Authorization header', { tokenSent: false });
    assert401(main, await raw(`${main.mcpOrigin}/sse`, { headers: { Accept: 'text/event-stream' } }),
      'Missing Authorization header', { tokenSent: false, prmPath: '/sse' });
    assert401(main, await raw(`${main.mcpOrigin}/message?sessionId=x`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' }), 'Missing Authorization header', { tokenSent: false, prmPath: '/sse' });
  });

  test('garbage token: 401 invalid_token; a non-Bearer header: 401 invalid_token', async () => {
    assert401(main, await mcpPost(main.mcpUrl, 'garbage', INIT), 'Token is not active');
    assert401(main, await mcpPost(main.mcpUrl, 'f'.repeat(64), INIT), 'Token is not active');
    assert401(main, await mcpPost(main.mcpUrl, undefined, INIT, { Authorization: 'Basic dXNlcjpwYXNz' }),
      "Invalid Authorization header format, expected 'Bearer TOKEN'");
  });

  test('expired token (1 s lifetime): accepted at first, then 401 invalid_token', async (t) => {
    // The AS keeps exp in whole seconds (exp = floor(now) + 1), so a token lives between 0 and
    // 1 s and exp is no earlier than the second after the login started. A refusal answered
    // after that may be a real expiry (a slow machine) and proves nothing: try a fresh token.
    let tokens;
    let sid;
    let expNotBefore;
    for (let attempt = 1; !sid; attempt++) {
      await sleep(1000 - (Date.now() % 1000) + 100); // just after a second boundary: most of a second to live
      const loginStarted = Date.now();
      ({ tokens } = await login(ttl1.asOrigin));
      assert.equal(tokens.expires_in, 1);
      expNotBefore = (Math.floor(loginStarted / 1000) + 1) * 1000;
      const init = await mcpPost(ttl1.mcpUrl, tokens.access_token, INIT);
      const answered = Date.now();
      if (init.status === 200) {
        sid = init.sessionId;
      } else {
        // The server decided before the answer came back: before expNotBefore, exp cannot have passed.
        assert.ok(answered >= expNotBefore, `refused while certainly unexpired: ${init.status} ${init.text}`);
        assert.ok(['Token has expired', 'Token is not active'].includes(init.json?.error_description), init.text);
        assert401(ttl1, init, init.json.error_description);
        t.diagnostic(`attempt ${attempt}: the first use was answered ${answered - expNotBefore} ms after the earliest exp; retrying`);
        assert.ok(attempt < 5, 'five logins in a row took longer than the token lived');
      }
    }
    // Introspection results are cached at most until exp, so the first request after it is
    // refused: wait for that refusal itself.
    const ping = () => mcpPost(ttl1.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'Mcp-Session-Id': sid });
    const r = await waitFor(async () => { const x = await ping(); return x.status === 401 ? x : null; }, 15000, 'the expired token to be refused');
    assert.ok(Date.now() >= expNotBefore, `refused at ${Date.now()}, before exp (no earlier than ${expNotBefore})`);
    // "Token has expired" when the verifier's cached answer is past exp, "Token is not active"
    // when the AS was asked again: which one depends on where the second boundary falls.
    assert.ok(['Token has expired', 'Token is not active'].includes(r.json?.error_description), r.text);
    assert401(ttl1, r, r.json.error_description);
  });

  test('revoked token (RFC 7009): 200 {} from /revoke, then 401 on the open session', async () => {
    const { tokens, client } = await login(main.asOrigin);
    const sid = await openSession(main.mcpUrl, tokens.access_token);
    const rv = await postForm(main.asOrigin, '/revoke', { ...clientAuth(client), token: tokens.access_token, token_type_hint: 'access_token' });
    assert.equal(rv.status, 200, rv.text);
    assert.deepEqual(rv.json, {});
    assert401(main, await mcpPost(main.mcpUrl, tokens.access_token, { jsonrpc: '2.0', id: 2, method: 'ping' }, { 'Mcp-Session-Id': sid }),
      'Token is not active');
    assert401(main, await mcpPost(main.mcpUrl, tokens.access_token, INIT), 'Token is not active');
  });

  test('token for another audience (resource=http://other.example/mcp): 401 invalid_token', async () => {
    const { tokens } = await login(main.asOrigin, { resource: 'http://other.example/mcp' });
    assert401(main, await mcpPost(main.mcpUrl, tokens.access_token, INIT), 'Token was not issued for this resource server');
    // Control: this server's own resource, with and without the /mcp path, is accepted.
    for (const resource of [main.mcpUrl, main.mcpOrigin]) {
      const ok = await login(main.asOrigin, { resource });
      assert.equal((await mcpPost(main.mcpUrl, ok.tokens.access_token, INIT)).status, 200, resource);
    }
  });

  test('foreign Origin on /mcp: 403 (a valid token does not help); the own origin is accepted', async () => {
    const { tokens } = await login(main.asOrigin);
    const r = await mcpPost(main.mcpUrl, tokens.access_token, INIT, { Origin: 'http://evil.example' });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(r.json, { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: invalid Origin header' }, id: null });
    const own = await mcpPost(main.mcpUrl, tokens.access_token, INIT, { Origin: main.mcpOrigin });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.headers.get('access-control-allow-origin'), main.mcpOrigin);
    assert.equal(own.headers.get('vary'), 'Origin');
  });

  // docs/architecture.md: "a foreign Origin is refused with 403 everywhere" (on the MCP
  // listener it is checked before routing, authentication and rate limits).
  test('foreign or opaque Origin on every route of the MCP listener: 403 with the exact body, no CORS grant', async () => {
    const { tokens } = await login(main.asOrigin);
    const auth = bearer(tokens.access_token);
    const routes = [
      ['POST', '/mcp', JSON.stringify(INIT)], ['GET', '/mcp'], ['DELETE', '/mcp'], ['GET', '/sse'],
      ['POST', '/message?sessionId=x', JSON.stringify(INIT)], ['OPTIONS', '/mcp'], ['GET', '/health'], ['GET', '/'],
      ['GET', '/.well-known/oauth-protected-resource/mcp'],
    ];
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1.evil.example:${main.port}`]) {
      for (const [method, path, body] of routes) {
        const r = await raw(`${main.mcpOrigin}${path}`, { method, body, headers: { ...auth, Origin: origin,
          Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'Access-Control-Request-Method': 'POST' } });
        assert.equal(r.status, 403, `${origin} ${method} ${path}: ${r.status} ${r.text}`);
        assert.deepEqual(r.json, { jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: invalid Origin header' }, id: null },
          `${origin} ${method} ${path}`);
        assert.equal(r.headers.get('access-control-allow-origin'), null, `${origin} ${method} ${path}`);
      }
    }
    // Control: a preflight from the server's own origin is granted.
    const pre = await raw(main.mcpUrl, { method: 'OPTIONS', headers: { Origin: main.mcpOrigin, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), main.mcpOrigin);
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, DELETE, OPTIONS');
  });
});

describe('authorization server', () => {
  test('replayed code: second /token is 400 invalid_grant and what the code issued is revoked', async () => {
    const { tokens, client, code, verifier } = await login(main.asOrigin);
    assert.equal((await mcpPost(main.mcpUrl, tokens.access_token, INIT)).status, 200);
    const again = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code,
      redirect_uri: REDIRECT_URI, code_verifier: verifier });
    assertOAuthError(again, 400, 'invalid_grant', 'Authorization code already used');
    assert401(main, await mcpPost(main.mcpUrl, tokens.access_token, INIT), 'Token is not active');
    const rt = await postForm(main.asOrigin, '/token', { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: tokens.refresh_token });
    assertOAuthError(rt, 400, 'invalid_grant');
  });

  test('unknown code: 400 invalid_grant (never 500)', async () => {
    const client = await register(main.asOrigin);
    const r = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: 'a'.repeat(64),
      redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier });
    assertOAuthError(r, 400, 'invalid_grant', 'Invalid or expired authorization code');
  });

  test('PKCE verifier mismatch: 400 invalid_grant', async () => {
    const client = await register(main.asOrigin);
    const { challenge } = pkce();
    const a = await authorize(main.asOrigin, client, { challenge });
    assert.equal((await idpCallback(main.asOrigin, a.code, 'pkce-user')).status, 302);
    const r = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: a.code,
      redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier });
    assertOAuthError(r, 400, 'invalid_grant', 'code_verifier does not match the challenge');
    // A verifier outside RFC 7636's alphabet or far too short is malformed, whatever it hashes to.
    for (const bad of ['short', 'a'.repeat(40) + ' !']) {
      const b = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: a.code,
        redirect_uri: REDIRECT_URI, code_verifier: bad });
      assertOAuthError(b, 400, 'invalid_request', 'code_verifier is missing or malformed');
    }
  });

  test('code redeemed by another client: 400 invalid_grant', async () => {
    const { challenge, verifier } = pkce();
    const owner = await register(main.asOrigin);
    const thief = await register(main.asOrigin);
    const a = await authorize(main.asOrigin, owner, { challenge });
    assert.equal((await idpCallback(main.asOrigin, a.code, 'owner-user')).status, 302);
    const r = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(thief), code: a.code,
      redirect_uri: REDIRECT_URI, code_verifier: verifier });
    assertOAuthError(r, 400, 'invalid_grant', 'Authorization code was issued to another client');
  });

  test('code_challenge_method=plain (and none): redirected error invalid_request, no code issued', async () => {
    const client = await register(main.asOrigin);
    const { verifier } = pkce();
    for (const method of ['plain', null]) {
      const a = await authorize(main.asOrigin, client, { challenge: verifier, method, state: 'plain-state' });
      assert.equal(a.res.status, 302, `method ${method}: ${a.res.status} ${a.text}`);
      assert.equal(a.code, null);
      const loc = new URL(a.res.headers.get('location'));
      assert.equal(loc.origin + loc.pathname, REDIRECT_URI);
      assert.equal(loc.searchParams.get('error'), 'invalid_request');
      assert.equal(loc.searchParams.get('error_description'), 'code_challenge_method must be S256');
      assert.equal(loc.searchParams.get('state'), 'plain-state');
      assert.equal(loc.searchParams.get('code'), null);
      assert.doesNotMatch(a.text, /[0-9a-f]{64}/);
    }
  });

  test('unregistered redirect URI: 400 invalid_request as JSON, never redirected', async () => {
    const client = await register(main.asOrigin);
    const a = await authorize(main.asOrigin, client, { challenge: pkce().challenge, redirectUri: 'http://evil.example/callback' });
    assert.equal(a.res.status, 400, a.text);
    assert.equal(a.res.headers.get('location'), null);
    assert.match(a.res.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(a.json, { error: 'invalid_request', error_description: 'Unregistered redirect_uri' });
    // Prefix and trailing-slash variants of the registered URI are not equal to it either.
    for (const redirectUri of [`${REDIRECT_URI}/x`, `${REDIRECT_URI}?a=1`, REDIRECT_URI.replace('127.0.0.1', 'localhost')]) {
      const b = await authorize(main.asOrigin, client, { challenge: pkce().challenge, redirectUri });
      assert.equal(b.res.status, 400, `${redirectUri}: ${b.res.status}`);
      assert.deepEqual(b.json, { error: 'invalid_request', error_description: 'Unregistered redirect_uri' });
    }
  });

  test('bad mock-IdP state: 400 (no crash), and the AS keeps serving', async () => {
    const bogus = await raw(`${main.asOrigin}/mock-upstream-idp/callback?state=bogus&code=mock-auth-code&userId=u`, { redirect: 'manual' });
    assertOAuthError(bogus, 400, 'invalid_request', 'Unknown or expired authorization request');
    const none = await raw(`${main.asOrigin}/mock-upstream-idp/callback?code=mock-auth-code`, { redirect: 'manual' });
    assertOAuthError(none, 400, 'invalid_request', 'state is required');
    const h = await raw(`${main.asOrigin}/health`);
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'healthy');
    // A request is approved once: a second callback (another user) is refused, and the code
    // still redeems to the first approval (the peer re-minted here, making a used code usable).
    const client = await register(main.asOrigin);
    const { challenge, verifier } = pkce();
    const a = await authorize(main.asOrigin, client, { challenge });
    assert.equal((await idpCallback(main.asOrigin, a.code, 'u1')).status, 302);
    const twice = await raw(`${main.asOrigin}/mock-upstream-idp/callback?state=${a.code}&code=mock-auth-code&userId=u2`, { redirect: 'manual' });
    assertOAuthError(twice, 400, 'invalid_request', 'Unknown or expired authorization request');
    const t = await postForm(main.asOrigin, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: a.code,
      redirect_uri: REDIRECT_URI, code_verifier: verifier });
    assert.equal(t.status, 200, t.text);
  });

  test('reused (rotated) refresh token: 400 invalid_grant and the whole family is revoked', async () => {
    const { tokens: t1, client } = await login(main.asOrigin);
    const r2 = await postForm(main.asOrigin, '/token', { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: t1.refresh_token });
    assert.equal(r2.status, 200, r2.text);
    const t2 = r2.json;
    assert.notEqual(t2.refresh_token, t1.refresh_token, 'rotation');
    assert.equal((await mcpPost(main.mcpUrl, t2.access_token, INIT)).status, 200, 'the newest access token works');

    const reuse = await postForm(main.asOrigin, '/token', { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: t1.refresh_token });
    assertOAuthError(reuse, 400, 'invalid_grant', 'Refresh token already used');
    assert401(main, await mcpPost(main.mcpUrl, t2.access_token, INIT), 'Token is not active');
    assert401(main, await mcpPost(main.mcpUrl, t1.access_token, INIT), 'Token is not active');
    const newest = await postForm(main.asOrigin, '/token', { grant_type: 'refresh_token', ...clientAuth(client), refresh_token: t2.refresh_token });
    assertOAuthError(newest, 400, 'invalid_grant');
  });
});

/** A request with a Host header of our choosing (fetch does not allow setting Host). */
function rawHost(url, { method = 'GET', host, headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: { ...headers, Host: host } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// docs/architecture.md: the authorization server checks Host like the MCP listener (DNS
// rebinding) but serves browser clients on any origin (CORS): its API is meant for them.
describe('authorization server: Host and Origin', () => {
  test('a foreign Host on every authorization-server route: 403 with the exact body', async () => {
    const routes = [['GET', '/.well-known/oauth-authorization-server'], ['POST', '/register', '{}'], ['GET', '/authorize'],
      ['POST', '/token', 'grant_type=x'], ['POST', '/introspect', 'token=x'], ['GET', '/health'], ['OPTIONS', '/token'],
      ['GET', '/mock-upstream-idp/authorize']];
    for (const host of ['evil.example', `evil.example:${new URL(main.asOrigin).port}`, `127.0.0.1.evil.example`]) {
      for (const [method, path, body] of routes) {
        const r = await rawHost(`${main.asOrigin}${path}`, { method, host, body, headers: { 'Content-Type': 'application/json' } });
        assert.equal(r.status, 403, `${host} ${method} ${path}: ${r.status} ${r.text}`);
        assert.deepEqual(r.json, { error: 'invalid_request', error_description: 'Forbidden: invalid Host header' }, `${host} ${method} ${path}`);
      }
    }
    const own = await rawHost(`${main.asOrigin}/.well-known/oauth-authorization-server`, { host: new URL(main.asOrigin).host });
    assert.equal(own.status, 200, own.text);
    const local = await rawHost(`${main.asOrigin}/health`, { host: 'localhost' });
    assert.equal(local.status, 200, local.text);
  });

  test('a browser client on another origin may register: 201 with a CORS grant', async () => {
    const reg = await fetch(`${main.asOrigin}/register`, { method: 'POST',
      headers: { Origin: 'http://client.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'cross-origin', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }) });
    assert.equal(reg.status, 201, await reg.text());
    assert.equal(reg.headers.get('access-control-allow-origin'), '*');
  });

  test('the login with Origin set to the authorization server\'s own origin: 201, 200, 302, 200, and the token works', async () => {
    const origin = { Origin: main.asOrigin };
    const allowed = (res) => [main.asOrigin, '*'].includes(res.headers.get('access-control-allow-origin'));
    const reg = await fetch(`${main.asOrigin}/register`, { method: 'POST', headers: { ...origin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'origin-test', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }) });
    assert.equal(reg.status, 201);
    assert.ok(allowed(reg), 'CORS grant on /register');
    const client = await reg.json();
    const { verifier, challenge } = pkce();
    const u = new URL('/authorize', main.asOrigin);
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT_URI,
      code_challenge: challenge, code_challenge_method: 'S256', state: 'origin-state' })) u.searchParams.set(k, v);
    const page = await fetch(u, { headers: origin, redirect: 'manual' });
    const html = await page.text();
    assert.equal(page.status, 200, html);
    assert.ok(allowed(page), 'CORS grant on /authorize');
    const code = /state=([0-9a-f]{64})/.exec(html)?.[1];
    assert.ok(code, 'the consent page carries the code');
    const cb = new URL('/mock-upstream-idp/callback', main.asOrigin);
    for (const [k, v] of Object.entries({ state: code, code: 'mock-auth-code', userId: 'origin-user' })) cb.searchParams.set(k, v);
    const back = await fetch(cb, { headers: origin, redirect: 'manual' });
    assert.equal(back.status, 302);
    const tok = await fetch(`${main.asOrigin}/token`, { method: 'POST', headers: { ...origin, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: client.client_id, code, redirect_uri: REDIRECT_URI,
        code_verifier: verifier }).toString() });
    const tokens = await tok.json();
    assert.equal(tok.status, 200, JSON.stringify(tokens));
    assert.ok(allowed(tok), 'CORS grant on /token');
    assert.equal((await mcpPost(main.mcpUrl, tokens.access_token, INIT)).status, 200);
  });
});

describe('session ownership (the token sub is the owner)', () => {
  let A;
  let B;
  before(async () => {
    A = (await login(main.asOrigin, { user: 'alice' })).tokens.access_token;
    B = (await login(main.asOrigin, { user: 'bob' })).tokens.access_token;
  });

  test("another user's /mcp session id: POST, GET and DELETE are 404; the owner's session is untouched", async () => {
    const sid = await openSession(main.mcpUrl, A);
    const h = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' };
    const post = await mcpPost(main.mcpUrl, B, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'Mcp-Session-Id': sid });
    assert.equal(post.status, 404, post.text);
    assert.deepEqual(post.json, SESSION_NOT_FOUND);
    const get = await raw(main.mcpUrl, { headers: { ...h, ...bearer(B), Accept: 'text/event-stream' } });
    assert.equal(get.status, 404, get.text);
    assert.deepEqual(get.json, SESSION_NOT_FOUND);
    const del = await raw(main.mcpUrl, { method: 'DELETE', headers: { ...h, ...bearer(B) } });
    assert.equal(del.status, 404, del.text);
    assert.deepEqual(del.json, SESSION_NOT_FOUND);
    const mine = await mcpPost(main.mcpUrl, A, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'Mcp-Session-Id': sid });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.result.tools.length, 7);
    const end = await raw(main.mcpUrl, { method: 'DELETE', headers: { ...h, ...bearer(A) } });
    assert.equal(end.status, 200);
  });

  test("/message with another user's /mcp session id and with an unknown id: 404", async () => {
    const sid = await openSession(main.mcpUrl, A);
    for (const id of [sid, 'no-such-session']) {
      const r = await raw(`${main.mcpOrigin}/message?sessionId=${encodeURIComponent(id)}`, { method: 'POST',
        headers: { 'Content-Type': 'application/json', ...bearer(B) }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
      assert.equal(r.status, 404, `${id}: ${r.text}`);
      assert.deepEqual(r.json, SESSION_NOT_FOUND);
    }
    await raw(main.mcpUrl, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid, ...bearer(A) } });
  });

  test("a /sse session of user A used by user B through /message: 404; A's own POST is 202", async () => {
    const sse = await openLegacySse(main.mcpOrigin, { headers: bearer(A) });
    const url = sse.messageUrl;
    const body = JSON.stringify(INIT);
    const theirs = await raw(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(B) }, body });
    assert.equal(theirs.status, 404, theirs.text);
    assert.deepEqual(theirs.json, SESSION_NOT_FOUND);
    const none = await raw(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert401(main, none, 'Missing Authorization header', { tokenSent: false, prmPath: '/sse' });
    const mine = await raw(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(A) }, body });
    assert.equal(mine.status, 202, mine.text);
    assert.equal((await sse.reply(1)).result?.serverInfo?.name, 'example-servers/feature-reference');
    // Had B's message been delivered, its answer would have come first (it was posted first).
    assert.equal(sse.events.filter((e) => e.event === 'message' && JSON.parse(e.data).id === 1).length, 1, 'only A\'s message was answered');
    sse.close();
  });
});

test('both mcpd all stop cleanly on SIGTERM with no sanitizer report', async () => {
  await main.stop();
  await ttl1.stop();
});
