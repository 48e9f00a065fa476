// The issuer identifier and the 2026-07-28 authorization response (RFC 9207): one issuer string in
// every document that names it, whatever trailing slashes AUTH_SERVER_URL was written with and
// whether the MCP role is degraded or not; iss on success and error redirects; and the official
// conformance suite's `authorization` command (both scenarios) for a public client registered
// with DCR; and application_type at registration (web, native, inferred, refused).
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { runAuthorizationSuite } from './lib/authsuite.mjs';
import { authorize, login, pkce, register, waitFor } from './lib/oauth.mjs';
import { freePort, spawnMcpd } from './lib/server.mjs';

const procs = [];
after(async () => {
  const r = await Promise.allSettled(procs.map((p) => p.stop()));
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

const json = async (url) => {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return res.json();
};

/** Every place the MCP role names the AS: the three PRM documents. */
async function prmIssuers(mcpOrigin) {
  const out = [];
  for (const suffix of ['/mcp', '', '/sse']) {
    const doc = await json(`${mcpOrigin}/.well-known/oauth-protected-resource${suffix}`);
    assert.equal(doc.authorization_servers.length, 1);
    out.push(doc.authorization_servers[0]);
  }
  return out;
}

for (const slashes of ['', '/', '//']) {
  test(`one issuer string with AUTH_SERVER_URL written with "${slashes}" after the origin, before and after degraded mode`, async () => {
    const [port, authPort] = [await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${authPort}`;
    const env = { INTROSPECTION_SECRET: randomBytes(24).toString('hex') };
    const common = ['--port', String(port), '--auth-port', String(authPort), '--base-uri', `http://127.0.0.1:${port}`,
      '--auth-server-url', issuer + slashes];
    // The MCP role first: degraded, since nothing answers on the AS port yet.
    const mcp = await spawnMcpd({ name: 'issuer-mcp', args: ['mcp', ...common, '--auth-check-interval-ms', '200'], waitPorts: [port], env });
    procs.push(mcp);
    const mcpOrigin = `http://127.0.0.1:${port}`;
    assert.equal((await (await fetch(`${mcpOrigin}/health`)).json()).status, 'degraded');
    const before = await prmIssuers(mcpOrigin);
    assert.deepEqual(before, [issuer, issuer, issuer]);
    const as = await spawnMcpd({ name: 'issuer-auth', args: ['auth', ...common], waitPorts: [authPort], env });
    procs.push(as);
    await waitFor(async () => (await (await fetch(`${mcpOrigin}/health`)).json()).status === 'healthy', 15000, 'MCP role healthy');
    assert.deepEqual(await prmIssuers(mcpOrigin), before, 'the PRM names the same issuer after the AS metadata was fetched');
    const md = await json(`${issuer}/.well-known/oauth-authorization-server`);
    assert.equal(md.issuer, issuer);
    assert.equal(md.authorization_response_iss_parameter_supported, true);
    assert.equal(md.token_endpoint, `${issuer}/token`);
    assert.equal((await json(`${mcpOrigin}/.well-known/oauth-authorization-server`)).issuer, issuer, 'the MCP role passes the same document on');
    assert.equal((await json(`${issuer}/.well-known/oauth-protected-resource`)).authorization_servers[0], issuer);
    assert.equal((await json(`${issuer}/`)).issuer, issuer);
    // iss on the success redirect (login() asserts it), and introspection names the same issuer.
    const { tokens } = await login(issuer);
    const intro = await fetch(`${issuer}/introspect`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${env.INTROSPECTION_SECRET}` },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    const ij = await intro.json();
    assert.equal(ij.active, true);
    assert.equal(ij.iss, issuer);
    await as.stop();
    await mcp.stop();
  });
}

test('iss on error redirects: every authorization error sent to the client names the issuer (RFC 9207 §2)', async () => {
  const authPort = await freePort();
  const issuer = `http://127.0.0.1:${authPort}`;
  const as = await spawnMcpd({ name: 'issuer-errors', args: ['auth', '--auth-port', String(authPort), '--auth-server-url', `${issuer}/`], waitPorts: [authPort] });
  procs.push(as);
  const client = await register(issuer);
  const { challenge } = pkce();
  const cases = [
    [{ challenge, scope: 'admin', state: 'e1' }, 'invalid_scope', 'e1'],
    [{ challenge, method: 'plain', state: 'e2' }, 'invalid_request', 'e2'],
    [{ challenge: 'short' }, 'invalid_request', null], // no state sent: none comes back, iss does
  ];
  for (const [opts, error, state] of cases) {
    const a = await authorize(issuer, client, { ...opts, state: opts.state ?? null });
    assert.equal(a.res.status, 302, a.text);
    const loc = new URL(a.res.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), error);
    assert.equal(loc.searchParams.get('state'), state);
    assert.deepEqual(loc.searchParams.getAll('iss'), [issuer]);
  }
  // Errors that are not redirected (unknown client, unregistered redirect URI) carry no Location.
  const bad = await authorize(issuer, { client_id: '00000000-0000-4000-8000-000000000000' }, { challenge });
  assert.equal(bad.res.status, 400);
  assert.equal(bad.res.headers.get('location'), null);
  await as.stop();
});

test('the conformance suite\'s authorization command: both scenarios pass for a public DCR client', async (t) => {
  const [authPort, cbPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${authPort}`;
  const as = await spawnMcpd({ name: 'issuer-suite', args: ['auth', '--auth-port', String(authPort), '--auth-server-url', issuer], waitPorts: [authPort] });
  procs.push(as);
  const client = await register(issuer, { redirect_uris: [`http://127.0.0.1:${cbPort}/callback`], token_endpoint_auth_method: 'none',
    application_type: 'native' });
  const r = await runAuthorizationSuite({ issuer, clientId: client.client_id, resource: 'http://127.0.0.1:3232/mcp', port: cbPort });
  const summary = r.checks.map((c) => `${c.scenario} ${c.id} ${c.status}${c.errorMessage ? `: ${c.errorMessage}` : ''}`);
  for (const line of summary) t.diagnostic(line);
  assert.equal(r.code, 0, `suite exit ${r.code}\n${r.stdout.slice(-2000)}`);
  assert.deepEqual([...new Set(r.checks.map((c) => c.scenario))].sort(), ['authorization-code-grant', 'authorization-server-metadata-endpoint']);
  assert.ok(r.checks.length >= 3, summary.join('\n'));
  assert.deepEqual(r.checks.filter((c) => c.status !== 'SUCCESS'), [], 'every check SUCCESS, no WARNING');
  assert.equal(new URL(r.location).searchParams.get('iss'), issuer);
  await as.stop();
});

test('application_type at /register: echoed, inferred when absent, web refused for loopback redirect URIs', async () => {
  const authPort = await freePort();
  const as = `http://127.0.0.1:${authPort}`;
  const p = await spawnMcpd({ name: 'issuer-apptype', args: ['auth', '--auth-port', String(authPort), '--auth-server-url', as], waitPorts: [authPort] });
  procs.push(p);
  const reg = (body) => fetch(`${as}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const ok = [
    [{ redirect_uris: ['http://127.0.0.1:3000/cb'], application_type: 'native' }, 'native'],
    [{ redirect_uris: ['http://127.0.0.1:3000/cb'] }, 'native'],
    [{ redirect_uris: ['https://app.example/cb'] }, 'web'],
    [{ redirect_uris: ['https://app.example/cb'], application_type: 'web' }, 'web'],
    [{ redirect_uris: ['com.example.app:/cb'], application_type: 'native' }, 'native'],
  ];
  for (const [body, type] of ok) {
    const res = await reg(body);
    const j = await res.json();
    assert.equal(res.status, 201, JSON.stringify(j));
    assert.equal(j.application_type, type, JSON.stringify(body));
  }
  const web = await reg({ redirect_uris: ['http://localhost:3000/cb'], application_type: 'web' });
  assert.equal(web.status, 400);
  assert.deepEqual(await web.json(), { error: 'invalid_redirect_uri', error_description:
    'redirect_uris: application_type web needs https redirect URIs on a host that is not loopback; register loopback or private-use scheme URIs as native' });
  const other = await reg({ redirect_uris: ['https://app.example/cb'], application_type: 'browser' });
  assert.equal(other.status, 400);
  assert.deepEqual(await other.json(), { error: 'invalid_client_metadata', error_description: 'application_type: must be web or native' });
  await p.stop();
});
