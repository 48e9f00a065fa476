// What a browser meets at each role's root, per scheme of the role's public URL (BASE_URI,
// AUTH_SERVER_URL). Over http (the defaults, http://localhost:PORT): the splash page's CSP has no
// upgrade-insecure-requests or block-all-mixed-content and there is no HSTS, so its stylesheet,
// logo and icon load from any hostname; every asset it links answers 200. The authorization
// server's root answers a page linking its metadata to a browser's Accept and JSON naming the
// metadata to anything else. Over https (TLS ended by a proxy in front): HSTS and the upgrade
// directives on both roles. And README.md shows the banner `make run` prints, word for word.
// The consent page shows the client, where it redirects and the scope, with Allow and Deny; Deny
// sends the browser back with error=access_denied and spends the request; browser-facing errors
// of /authorize and the mock IdP are an HTML page for a browser and JSON otherwise; the mock IdP
// page is a plain form with no script.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { ROOT, freePort, spawnMcpd } from './lib/server.mjs';
import { REDIRECT_URI, authorize, idpCallback, pkce, postForm, register, waitFor } from './lib/oauth.mjs';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const CSP_HTTP = "default-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'";
const UPGRADE = 'upgrade-insecure-requests; block-all-mixed-content';
const servers = [];
let mcp; // http://127.0.0.1:<port> of `mcpd all` with the default URLs
let as;
let all; // that process

before(async () => {
  const [port, authPort] = [await freePort(), await freePort()];
  all = await spawnMcpd({ name: 'pages-all', waitPorts: [authPort, port],
    args: ['all', '--port', String(port), '--auth-port', String(authPort)] });
  servers.push(all);
  mcp = `http://127.0.0.1:${port}`;
  as = `http://127.0.0.1:${authPort}`;
});

after(async () => {
  const r = await Promise.allSettled(servers.map((s) => s.stop()));
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

// The same-origin URLs a page loads: stylesheets, icons, images.
function linkedAssets(html) {
  return [...html.matchAll(/<(?:link|img)\b[^>]*\b(?:href|src)="(\/[^"]*)"/g)].map((m) => m[1]);
}

async function assertAssetsLoad(origin, html) {
  const assets = linkedAssets(html);
  for (const want of ['/styles.css', '/favicon.svg', '/mcp-logo.png']) assert.ok(assets.includes(want), `links ${want}`);
  for (const a of assets) assert.equal((await fetch(`${origin}${a}`, { headers: { Accept: '*/*' } })).status, 200, a);
}

test('over http the splash page upgrades nothing, sends no HSTS, and its assets load', async () => {
  const res = await fetch(`${mcp}/`, { headers: { Accept: BROWSER } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(res.headers.get('content-security-policy'), CSP_HTTP);
  assert.equal(res.headers.get('strict-transport-security'), null);
  assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  assert.match(html, /<title>mcpd: MCP server and OAuth 2\.1 authorization server<\/title>/);
  await assertAssetsLoad(mcp, html);
});

test('the authorization server root: a page for a browser, JSON otherwise', async () => {
  const metadata = `http://localhost:${new URL(as).port}/.well-known/oauth-authorization-server`;
  const page = await fetch(`${as}/`, { headers: { Accept: BROWSER } });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(page.headers.get('vary') ?? '', /Accept/);
  assert.equal(page.headers.get('content-security-policy'), CSP_HTTP);
  assert.equal(page.headers.get('strict-transport-security'), null);
  const html = await page.text();
  assert.ok(html.includes(`<a href="${metadata}">`), 'links the metadata document');
  assert.match(html, /OAuth 2\.1/);
  await assertAssetsLoad(as, html);
  for (const accept of [undefined, '*/*', 'application/json']) {
    const res = await fetch(`${as}/`, { headers: accept ? { Accept: accept } : {} });
    assert.equal(res.status, 200, `Accept: ${accept}`);
    assert.match(res.headers.get('content-type'), /^application\/json/, `Accept: ${accept}`);
    const doc = await res.json();
    assert.equal(doc.authorization_server_metadata, metadata);
    assert.equal(doc.issuer, `http://localhost:${new URL(as).port}`);
  }
  const md = await fetch(`${as}/.well-known/oauth-authorization-server`);
  assert.equal(md.status, 200);
  assert.equal((await md.json()).issuer, `http://localhost:${new URL(as).port}`);
});

test('over https (public URLs behind a TLS proxy): HSTS and the upgrade directives on both roles', async () => {
  const [port, authPort] = [await freePort(), await freePort()];
  servers.push(await spawnMcpd({ name: 'pages-https-mcp', waitPorts: [port],
    args: ['mcp', '--no-auth', '--port', String(port), '--base-uri', 'https://mcp.example.com'] }));
  servers.push(await spawnMcpd({ name: 'pages-https-auth', waitPorts: [authPort],
    args: ['auth', '--auth-port', String(authPort), '--auth-server-url', 'https://auth.example.com'] }));
  for (const url of [`http://127.0.0.1:${port}/`, `http://127.0.0.1:${authPort}/`]) {
    const res = await fetch(url, { headers: { Accept: BROWSER } });
    assert.equal(res.status, 200, url);
    assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains', url);
    assert.equal(res.headers.get('content-security-policy'), `${CSP_HTTP}; ${UPGRADE}`, url);
    await res.arrayBuffer();
  }
});

test('README.md shows the banner mcpd all prints (on the default ports)', async () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const shown = readme.match(/```text\n(mcpd [^\n]*\n[\s\S]*?)```/);
  assert.ok(shown, 'README.md has the banner block');
  // The banner goes to stderr, into the log between JSON lines from stdout (two pipes, so they
  // may interleave by line); ours ran on free ports.
  const banner = await waitFor(() => {
    const lines = readFileSync(all.logFile, 'utf8').split('\n').filter((l) => !l.startsWith('{'));
    const first = lines.findIndex((l) => l.startsWith('mcpd '));
    const last = lines.findIndex((l) => l.startsWith('  logs:'));
    return first >= 0 && last > first ? `${lines.slice(first, last + 1).join('\n')}\n` : null;
  }, 5000, 'the banner in the log');
  const onDefaults = banner.replaceAll(`localhost:${new URL(mcp).port}`, 'localhost:3232')
    .replaceAll(`localhost:${new URL(as).port}`, 'localhost:3001');
  if (process.env.REDIS_URL) {
    assert.equal(onDefaults.replace('(redis store,', '(memory store,'), shown[1]);
  } else {
    assert.equal(onDefaults, shown[1]);
  }
  // The Inspector the banner and README name is the one the tests pin and scripts/deps.sh installs.
  const pinned = JSON.parse(readFileSync(path.join(ROOT, 'tests/integration/package.json'), 'utf8'))
    .dependencies['@modelcontextprotocol/inspector'];
  assert.match(pinned, /^\d+\.\d+\.\d+$/, 'the Inspector is pinned to one version');
  const named = [...`${banner}\n${readme}`.matchAll(/@modelcontextprotocol\/inspector@([0-9.]+)/g)].map((m) => m[1]);
  assert.ok(named.length >= 3, 'the banner and README name the Inspector with its version');
  for (const v of named) assert.equal(v, pinned);
});

const CONSENT_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; img-src 'self' data:; "
  + "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'";

test('the consent page shows the client, its redirect host, the scope and the resource, with Allow and Deny', async () => {
  const client = await register(as, { client_name: 'Consent <Test> App', scope: 'mcp' });
  const resource = `${mcp}/mcp?x=<y>&state=z`; // escaped, '=' included: the first state= stays Allow's
  const a = await authorize(as, client, { challenge: pkce().challenge, state: 'st-consent', scope: 'mcp', resource });
  assert.equal(a.res.status, 200);
  assert.equal(a.res.headers.get('content-security-policy'), CONSENT_CSP);
  assert.match(a.code, /^[0-9a-f]{64}$/, 'the first state= is the code');
  const value = (label) => new RegExp(`<div class="label">${label}</div><div class="value">([^<]*)</div>`).exec(a.text)?.[1];
  assert.equal(value('Client Application'), 'Consent &lt;Test&gt; App');
  assert.equal(value('Client ID'), client.client_id);
  assert.equal(value('Redirects to'), new URL(REDIRECT_URI).host);
  assert.equal(value('Requested Scope'), 'mcp');
  assert.equal(value('Resource'), `${mcp}/mcp?x&#61;&lt;y&gt;&amp;state&#61;z`);
  assert.equal(value('Client metadata from'), undefined, 'a registered client has no metadata document');
  assert.doesNotMatch(a.text, /id="cimd"/);
  // Without a resource the row says so.
  const b = await authorize(as, client, { challenge: pkce().challenge, scope: 'mcp' });
  assert.match(b.text, /<div class="label">Resource<\/div><div class="value">\(none\)<\/div>/);
  assert.ok(a.text.includes(`id="allow" href="/mock-upstream-idp/authorize?redirect_uri=/mock-upstream-idp/callback&amp;state=${a.code}">Allow</a>`));
  assert.ok(a.text.includes(`id="deny" href="/authorize/deny?code=${a.code}">Deny</a>`));
  assert.doesNotMatch(a.text, /<script/);
});

test('Deny: back to the client with error=access_denied and its state; the request is spent', async () => {
  const client = await register(as);
  const { verifier, challenge } = pkce();
  const a = await authorize(as, client, { challenge, state: 'st-deny' });
  const deny = await fetch(`${as}/authorize/deny?code=${a.code}`, { redirect: 'manual' });
  assert.equal(deny.status, 302);
  const back = new URL(deny.headers.get('location'));
  assert.equal(back.origin + back.pathname, REDIRECT_URI);
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), 'st-deny');
  assert.equal(back.searchParams.get('code'), null);
  // Neither the IdP nor /token accepts the denied request afterwards, and a second Deny neither.
  const cb = await idpCallback(as, a.code, 'someone');
  assert.equal(cb.status, 400);
  assert.equal((await cb.json()).error_description, 'Unknown or expired authorization request');
  const t = await postForm(as, '/token', { grant_type: 'authorization_code', client_id: client.client_id,
    client_secret: client.client_secret, code: a.code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  assert.equal(t.status, 400);
  assert.equal(t.json.error, 'invalid_grant');
  assert.equal((await fetch(`${as}/authorize/deny?code=${a.code}`, { redirect: 'manual' })).status, 400);
  // Approved first: Deny cannot take it back.
  const b = await authorize(as, client, { challenge, state: 'st-approved' });
  assert.equal((await idpCallback(as, b.code, 'someone')).status, 302);
  const late = await fetch(`${as}/authorize/deny?code=${b.code}`, { redirect: 'manual' });
  assert.equal(late.status, 400);
  assert.equal(late.headers.get('location'), null);
});

test('browser-facing /authorize and mock IdP errors: an HTML page for a browser, JSON otherwise', async () => {
  const client = await register(as);
  const cases = [
    [`/authorize?client_id=nope&response_type=code`, 'invalid_client', 'Invalid client_id'],
    [`/authorize?client_id=${client.client_id}&redirect_uri=${encodeURIComponent('http://evil.example/cb')}`, 'invalid_request', 'Unregistered redirect_uri'],
    ['/authorize', 'invalid_request', 'client_id is required'],
    ['/mock-upstream-idp/authorize?state=x&redirect_uri=//evil.example', 'invalid_request', 'redirect_uri must be a path on this server'],
    ['/authorize/deny?code=%3Cscript%3E', 'invalid_request', 'Unknown or expired authorization request'],
  ];
  for (const [target, error, description] of cases) {
    const page = await fetch(`${as}${target}`, { headers: { Accept: BROWSER }, redirect: 'manual' });
    assert.equal(page.status, 400, target);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8', target);
    assert.equal(page.headers.get('content-security-policy'), CONSENT_CSP, target);
    const html = await page.text();
    assert.match(html, /<title>Authorization Error<\/title>/, target);
    assert.ok(html.includes(`<div class="value">${error}</div>`), `${target}: ${error}`);
    assert.ok(html.includes(`<div class="value">${description}</div>`), `${target}: ${description}`);
    assert.doesNotMatch(html, /<script/, target);
    const json = await fetch(`${as}${target}`, { redirect: 'manual' });
    assert.equal(json.status, 400, target);
    assert.deepEqual(await json.json(), { error, error_description: description }, target);
  }
});

test('the mock IdP page is a plain form: no script, no prompt(), no emoji, "demo user" by default', async () => {
  const res = await fetch(`${as}/mock-upstream-idp/authorize?redirect_uri=/mock-upstream-idp/callback&state=abc%22%3E`, { headers: { Accept: BROWSER } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-security-policy'),
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'");
  const html = await res.text();
  assert.doesNotMatch(html, /<script|prompt\(|onclick/i);
  assert.doesNotMatch(html, /[\u{1F300}-\u{1FAFF}\u{2600}-\u{27BF}]|&#1[0-9]{5};/u, 'no emoji');
  assert.ok(html.includes('<form method="get" action="/mock-upstream-idp/callback">'));
  assert.ok(html.includes('<input type="hidden" name="state" value="abc&quot;&gt;">'), 'state escaped');
  assert.ok(html.includes('<input type="hidden" name="code" value="mock-auth-code">'));
  assert.match(html, /<input id="user" name="userId" value="demo user" required/);
  assert.match(html, /<button class="button" id="complete" type="submit">Sign in<\/button>/);
});
