// What a browser meets at each role's root, per scheme of the role's public URL (BASE_URI,
// AUTH_SERVER_URL). Over http (the defaults, http://localhost:PORT): the splash page's CSP has no
// upgrade-insecure-requests or block-all-mixed-content and there is no HSTS, so its stylesheet,
// logo and icon load from any hostname; every asset it links answers 200. The authorization
// server's root answers a page linking its metadata to a browser's Accept and JSON naming the
// metadata to anything else. Over https (TLS ended by a proxy in front): HSTS and the upgrade
// directives on both roles. And README.md shows the banner `make run` prints, word for word.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { ROOT, freePort, spawnMcpd } from './lib/server.mjs';
import { waitFor } from './lib/oauth.mjs';

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
});
