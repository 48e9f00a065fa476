// Client ID Metadata Documents (MCP 2026-07-28 client registration): mcpd's authorization server
// fetching an https client_id URL. The documents are served by a local HTTPS server with a
// self-signed certificate made here with openssl; mcpd trusts it through --cimd-ca-file and may
// reach loopback only with the test-only --cimd-allow-private 1 (a second server without it
// refuses the same URL for its address). The official conformance suite's `authorization`
// command runs with the document URL as its client id; the SDK-less login helpers run the whole
// flow to a working MCP session; every refusal is checked with its exact OAuth error.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { runAuthorizationSuite } from './lib/authsuite.mjs';
import { authorize, login, openSession, pkce, postForm, REDIRECT_URI, startOAuthServers } from './lib/oauth.mjs';
import { freePort, spawnMcpd } from './lib/server.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpd-cimd-'));
const cert = path.join(dir, 'cert.pem');
const key = path.join(dir, 'key.pem');
let docs; // the HTTPS document server
let docOrigin;
let cbPort;
const fetches = {}; // path -> times fetched
let servers; // mcpd all, allowed to fetch from loopback
let strict; // mcpd auth with the default address policy
const stops = [];

const url = (p) => `${docOrigin}${p}`;
const doc = (p, extra = {}) => ({
  client_id: url(p), client_name: `cimd test ${p}`, redirect_uris: [REDIRECT_URI, `http://127.0.0.1:${cbPort}/callback`],
  grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...extra,
});

function serveDocs(req, res) {
  const p = new URL(req.url, docOrigin).pathname;
  fetches[p] = (fetches[p] ?? 0) + 1;
  const json = (body, headers = {}) => {
    res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  switch (p) {
    case '/client.json': return json(doc(p), { 'Cache-Control': 'public, max-age=60' });
    case '/suite.json': return json(doc(p));
    case '/strict.json': return json(doc(p));
    case '/nostore.json': return json(doc(p), { 'Cache-Control': 'no-store' });
    case '/mismatch.json': return json(doc('/client.json'));
    case '/trailing.json': return json({ ...doc(p), client_id: `${url(p)}/` });
    case '/big.json': return json({ ...doc(p), padding: 'x'.repeat(6000) });
    case '/jwt.json': return json(doc(p, { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: url('/jwks') }));
    case '/secret.json': return json(doc(p, { client_secret: 'not-a-secret-to-publish' }));
    case '/noname.json': { const d = doc(p); delete d.client_name; return json(d); }
    case '/noredirect.json': { const d = doc(p); delete d.redirect_uris; return json(d); }
    case '/httpredirect.json': return json(doc(p, { redirect_uris: ['http://evil.example/cb'] }));
    case '/text.json': res.writeHead(200, { 'Content-Type': 'text/plain' }); return res.end('hello');
    case '/moved.json': res.writeHead(302, { Location: url('/client.json') }); return res.end();
    case '/slow.json': return setTimeout(() => json(doc(p)), 3000);
    default: res.writeHead(404); return res.end('not found');
  }
}

before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const port = await freePort();
  cbPort = await freePort();
  docOrigin = `https://localhost:${port}`;
  docs = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, serveDocs);
  await new Promise((r) => docs.listen(port, '127.0.0.1', r));
  servers = await startOAuthServers({ name: 'cimd', authArgs: ['--cimd-ca-file', cert, '--cimd-allow-private', '1', '--cimd-timeout-ms', '1000'] });
  stops.push(() => servers.stop());
  const strictPort = await freePort();
  strict = { as: `http://127.0.0.1:${strictPort}` };
  strict.proc = await spawnMcpd({ name: 'cimd-strict', args: ['auth', '--auth-port', String(strictPort), '--auth-server-url', strict.as, '--cimd-ca-file', cert],
    waitPorts: [strictPort] });
  stops.push(() => strict.proc.stop());
});

after(async () => {
  const r = await Promise.allSettled(stops.map((s) => s()));
  docs?.closeAllConnections?.();
  await new Promise((res) => (docs ? docs.close(res) : res()));
  rmSync(dir, { recursive: true, force: true });
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

test('the AS metadata advertises client_id_metadata_document_supported', async () => {
  const md = await (await fetch(`${servers.asOrigin}/.well-known/oauth-authorization-server`)).json();
  assert.equal(md.client_id_metadata_document_supported, true);
  assert.equal(md.authorization_response_iss_parameter_supported, true);
});

test('the conformance suite\'s authorization command with a metadata document client id: both scenarios pass', async (t) => {
  const r = await runAuthorizationSuite({ issuer: servers.asOrigin, clientId: url('/suite.json'), resource: servers.mcpUrl, port: cbPort });
  for (const c of r.checks) t.diagnostic(`${c.scenario} ${c.id} ${c.status}${c.errorMessage ? `: ${c.errorMessage}` : ''}`);
  assert.equal(r.code, 0, `suite exit ${r.code}\n${r.stdout.slice(-2000)}`);
  assert.deepEqual([...new Set(r.checks.map((c) => c.scenario))].sort(), ['authorization-code-grant', 'authorization-server-metadata-endpoint']);
  assert.deepEqual(r.checks.filter((c) => c.status !== 'SUCCESS'), [], 'every check SUCCESS');
  assert.equal(new URL(r.location).searchParams.get('iss'), servers.asOrigin);
});

test('a metadata document client logs in, uses MCP, refreshes; its document is fetched once while cached', async () => {
  const client = { client_id: url('/client.json') };
  const before = fetches['/client.json'] ?? 0;
  const { tokens } = await login(servers.asOrigin, { client, resource: servers.mcpUrl });
  assert.ok(tokens.refresh_token, 'refresh_token granted: the document lists the grant');
  const sid = await openSession(servers.mcpUrl, tokens.access_token);
  assert.ok(sid);
  const refreshed = await postForm(servers.asOrigin, '/token', { grant_type: 'refresh_token', client_id: client.client_id,
    refresh_token: tokens.refresh_token });
  assert.equal(refreshed.status, 200, refreshed.text);
  await login(servers.asOrigin, { client });
  assert.equal((fetches['/client.json'] ?? 0) - before, 1, 'max-age=60: one fetch for two logins, a refresh and three token requests');
  // no-store: fetched at /authorize and again at /token.
  const n0 = fetches['/nostore.json'] ?? 0;
  await login(servers.asOrigin, { client: { client_id: url('/nostore.json') } });
  assert.equal((fetches['/nostore.json'] ?? 0) - n0, 2);
});

test('the consent page names the metadata document client, where its metadata came from and its redirect host', async () => {
  const { challenge } = pkce();
  const resource = `${servers.mcpOrigin}/mcp`;
  const a = await authorize(servers.asOrigin, { client_id: url('/client.json') }, { challenge, scope: 'mcp', resource });
  assert.equal(a.res.status, 200);
  const value = (label) => new RegExp(`<div class="label">${label}</div><div class="value">([^<]*)</div>`).exec(a.text)?.[1];
  assert.equal(value('Client Application'), 'cimd test /client.json');
  assert.equal(value('Client metadata from'), `https://${new URL(docOrigin).host}/\u2026`);
  assert.equal(value('Client ID'), url('/client.json'));
  assert.equal(value('Redirects to'), new URL(REDIRECT_URI).host);
  assert.equal(value('Requested Scope'), 'mcp');
  assert.equal(value('Resource'), resource);
  assert.match(a.text, /<p id="cimd">This client did not register here: it is identified by the URL of its metadata document/);
  // Its other redirect URI: that one's host.
  const b = await authorize(servers.asOrigin, { client_id: url('/client.json') },
    { challenge, redirectUri: `http://127.0.0.1:${cbPort}/callback` });
  assert.equal(b.res.status, 200);
  assert.match(b.text, new RegExp(`<div class="label">Redirects to</div><div class="value">127\\.0\\.0\\.1:${cbPort}</div>`));
});

const refusals = [
  ['an http URL', () => url('/client.json').replace('https:', 'http:'), 'client_id URL must use https'],
  ['a URL without a path', () => docOrigin, 'client_id URL must have a path'],
  ['a URL with a dot segment', () => url('/a/../client.json'), 'client_id URL must not contain dot segments'],
  ['a URL with a fragment', () => `${url('/client.json')}#x`, 'client_id URL must not contain user information or a fragment'],
  ['a client_id that is another URL', () => url('/mismatch.json'), 'the client_id in the client metadata document does not match its URL'],
  ['a client_id with a trailing slash', () => url('/trailing.json'), 'the client_id in the client metadata document does not match its URL'],
  ['a document past 5 KB', () => url('/big.json'), 'the client metadata document is larger than 5120 bytes'],
  ['a slow server', () => url('/slow.json'), 'fetching the client metadata document timed out after 1000 ms'],
  ['a 404', () => url('/missing.json'), 'fetching the client metadata document answered HTTP 404'],
  ['a redirect (not followed)', () => url('/moved.json'), 'fetching the client metadata document answered HTTP 302'],
  ['private_key_jwt', () => url('/jwt.json'), 'token_endpoint_auth_method must be none for a metadata document client (private_key_jwt and secrets are not supported)'],
  ['a published client secret', () => url('/secret.json'), 'a client metadata document must not contain a client secret'],
  ['no client_name', () => url('/noname.json'), 'the client metadata document has no client_name'],
  ['no redirect_uris', () => url('/noredirect.json'), 'the client metadata document is invalid: redirect_uris: Required'],
  ['an http redirect URI off loopback', () => url('/httpredirect.json'), /^the client metadata document is invalid: redirect_uris: http redirect_uri is only allowed/],
  ['not JSON', () => url('/text.json'), 'the client metadata document is not a JSON object'],
  ['nothing listening', () => `https://localhost:${cbPort + 0}/nothing.json`, /^fetching the client metadata document failed: /],
];

for (const [name, client, description] of refusals) {
  test(`refused at /authorize and /token: ${name}`, async () => {
    const { challenge, verifier } = pkce();
    const a = await authorize(servers.asOrigin, { client_id: client() }, { challenge, state: 'st' });
    assert.equal(a.res.status, 400, a.text);
    assert.equal(a.res.headers.get('location'), null, 'never redirected');
    assert.equal(a.json.error, 'invalid_client');
    if (description instanceof RegExp) assert.match(a.json.error_description, description);
    else assert.equal(a.json.error_description, description);
    const t = await postForm(servers.asOrigin, '/token', { grant_type: 'authorization_code', client_id: client(), code: 'x'.repeat(64),
      code_verifier: verifier, redirect_uri: REDIRECT_URI });
    assert.equal(t.status, 400, t.text);
    assert.equal(t.json.error, 'invalid_client');
  });
}

test('a redirect_uri the document does not list is refused without a redirect', async () => {
  const { challenge } = pkce();
  const a = await authorize(servers.asOrigin, { client_id: url('/client.json') }, { challenge, redirectUri: 'http://127.0.0.1:1/other' });
  assert.equal(a.res.status, 400);
  assert.equal(a.res.headers.get('location'), null);
  assert.deepEqual(a.json, { error: 'invalid_request', error_description: 'Unregistered redirect_uri' });
});

// A URL no other server of this file fetched: on Redis every mcpd of the pass shares the cache,
// and a document cached by the permissive server would be served without a fetch.
test('without CIMD_ALLOW_PRIVATE a loopback document server is refused for its address', async () => {
  const { challenge } = pkce();
  const a = await authorize(strict.as, { client_id: url('/strict.json') }, { challenge });
  assert.equal(a.res.status, 400, a.text);
  assert.deepEqual(a.json, { error: 'invalid_client', error_description: 'the client_id URL\'s host resolves to a non-public address' });
  assert.equal(fetches['/strict.json'] ?? 0, 0, 'no request reached the document server');
});

test('with --cimd 0 a URL client_id is an unknown client and the metadata says so', async () => {
  const port = await freePort();
  const as = `http://127.0.0.1:${port}`;
  const p = await spawnMcpd({ name: 'cimd-off', args: ['auth', '--auth-port', String(port), '--auth-server-url', as, '--cimd', '0'], waitPorts: [port] });
  stops.push(() => p.stop());
  const md = await (await fetch(`${as}/.well-known/oauth-authorization-server`)).json();
  assert.equal(md.client_id_metadata_document_supported, false);
  const a = await authorize(as, { client_id: url('/client.json') }, { challenge: pkce().challenge });
  assert.deepEqual(a.json, { error: 'invalid_client', error_description: 'Invalid client_id' });
});
