// The pages as a browser meets them: Debian's chromium, headless, driven by puppeteer-core, against
// `mcpd all` on loopback ports with localhost URLs (as `make run` prints them). The splash page
// and the authorization server's root render with their stylesheet and images, at desktop and
// phone sizes, with no console error, no failed request and no Content-Security-Policy violation;
// the consent flow is clicked through: Allow, the mock identity provider's form (a typed user
// name), back at the client's redirect URI (a listener of this test) with code and state, and the
// code works at /token; Deny comes back with error=access_denied and the state; a bad client gets
// the HTML error page; at phone size the consent, mock IdP and error pages fit the screen. Each
// page is screenshot into the layer's log directory. The browser may only resolve localhost and
// 127.0.0.1 (every other name fails), so nothing leaves the machine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { freePort, spawnMcpd } from '../lib/server.mjs';
import { pkce, postForm, waitFor } from '../lib/oauth.mjs';
import { DESKTOP, PHONE, STEP_MS, assertRendered, launchBrowser, newPage as openPage, screenshot } from './harness.mjs';

let mcpd;
let mcp; // http://localhost:<port>
let as;
let browser;
let client; // registered with the callback below
let callback; // { url, hits: [URL], waiter }

/** A loopback listener standing for the client's redirect URI: records each request's URL. */
async function startCallback() {
  const port = await freePort();
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(new URL(req.url, `http://localhost:${port}`));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><title>client callback</title><p>back at the client</p>');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://localhost:${port}/cb`, hits, close: () => new Promise((r) => server.close(r)) };
}

before(async () => {
  const [port, authPort] = [await freePort(), await freePort()];
  mcp = `http://localhost:${port}`;
  as = `http://localhost:${authPort}`;
  mcpd = await spawnMcpd({ name: 'browser-all', waitPorts: [authPort, port], env: {
    PORT: String(port), AUTH_SERVER_PORT: String(authPort), BASE_URI: mcp, AUTH_SERVER_URL: as }, args: ['all'] });
  await waitFor(async () => (await (await fetch(`${mcp}/health`)).json()).status === 'healthy', 15000, 'healthy');
  callback = await startCallback();
  const reg = await fetch(`${as}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: 'Browser Test Client', redirect_uris: [callback.url], token_endpoint_auth_method: 'none' }) });
  assert.equal(reg.status, 201);
  client = await reg.json();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await callback?.close();
  await mcpd?.stop();
});

const newPage = (viewport) => openPage(browser, viewport);

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`the splash page renders at ${size} size with no console error and no CSP violation`, async () => {
    const { page, problems } = await newPage(viewport);
    const res = await page.goto(`${mcp}/`, { waitUntil: 'networkidle0' });
    assert.equal(res.status(), 200);
    assert.equal(await page.title(), 'mcpd: MCP server and OAuth 2.1 authorization server');
    await assertRendered(page);
    await screenshot(page, `splash-${size}`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test(`the authorization server's root page renders at ${size} size with no console error and no CSP violation`, async () => {
    const { page, problems } = await newPage(viewport);
    const res = await page.goto(`${as}/`, { waitUntil: 'networkidle0' });
    assert.equal(res.status(), 200);
    assert.match(await page.title(), /authorization server/);
    await assertRendered(page);
    await screenshot(page, `as-root-${size}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

function authorizeUrl(state, challenge) {
  const u = new URL('/authorize', as);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: callback.url,
    code_challenge: challenge, code_challenge_method: 'S256', state, scope: 'mcp', resource: `${mcp}/mcp` })) u.searchParams.set(k, v);
  return u.href;
}

async function waitForCallback(state) {
  return waitFor(() => callback.hits.find((h) => h.searchParams.get('state') === state), STEP_MS, `the callback with state ${state}`);
}

test('consent Allow, the mock IdP form with a typed name, back at the client with a code that works', async () => {
  const { page, problems } = await newPage();
  const { verifier, challenge } = pkce();
  const state = 'browser-allow';
  await page.goto(authorizeUrl(state, challenge), { waitUntil: 'networkidle0' });
  assert.equal(await page.title(), 'MCP Server Authorization');
  const details = await page.$$eval('.row', (rows) => rows.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));
  assert.deepEqual(details, [`CLIENT APPLICATION Browser Test Client`, `CLIENT ID ${client.client_id}`,
    `REDIRECTS TO ${new URL(callback.url).host}`, 'REQUESTED SCOPE mcp', `RESOURCE ${mcp}/mcp`]);
  await assertRendered(page);
  await screenshot(page, 'consent');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#allow')]);
  assert.equal(await page.title(), 'Upstream Provider Authentication');
  await screenshot(page, 'idp');
  assert.equal(await page.$eval('#user', (i) => i.value), 'demo user');
  await page.$eval('#user', (i) => { i.value = ''; });
  await page.type('#user', 'browser user');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#complete')]);
  assert.equal(await page.title(), 'client callback');
  const hit = await waitForCallback(state);
  assert.equal(page.url(), hit.href);
  assert.match(hit.searchParams.get('code'), /^[0-9a-f]{64}$/);
  const t = await postForm(as, '/token', { grant_type: 'authorization_code', client_id: client.client_id,
    code: hit.searchParams.get('code'), redirect_uri: callback.url, code_verifier: verifier });
  assert.equal(t.status, 200, t.text);
  // The token's subject is the typed name: a session opened with it belongs to "browser user".
  assert.equal(t.json.token_type, 'Bearer');
  assert.deepEqual(problems, []);
  await page.close();
});

test('consent Deny: back at the client with error=access_denied and the state, no code', async () => {
  const { page, problems } = await newPage();
  const state = 'browser-deny';
  await page.goto(authorizeUrl(state, pkce().challenge), { waitUntil: 'networkidle0' });
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#deny')]);
  const hit = await waitForCallback(state);
  assert.equal(hit.searchParams.get('error'), 'access_denied');
  assert.equal(hit.searchParams.get('code'), null);
  assert.equal(await page.title(), 'client callback');
  assert.deepEqual(problems, []);
  await page.close();
});

test('an unknown client gets the HTML error page, rendered, with no CSP violation', async () => {
  const { page, problems } = await newPage();
  const res = await page.goto(`${as}/authorize?response_type=code&client_id=nope`, { waitUntil: 'networkidle0' });
  assert.equal(res.status(), 400);
  assert.equal(await page.title(), 'Authorization Error');
  const text = await page.$eval('main', (m) => m.innerText);
  assert.match(text, /invalid_client/);
  assert.match(text, /Invalid client_id/);
  await assertRendered(page);
  await screenshot(page, 'error');
  // Chrome reports the page's own 400 on the console; nothing else may appear.
  assert.deepEqual(problems.filter((p) => !/Failed to load resource: the server responded with a status of 400/.test(p)), []);
  await page.close();
});

test('at phone size the consent page, the mock IdP page and the error page fit the screen, with no problem', async () => {
  const { page, problems } = await newPage(PHONE);
  await page.goto(authorizeUrl('browser-phone', pkce().challenge), { waitUntil: 'networkidle0' });
  assert.equal(await page.title(), 'MCP Server Authorization');
  await assertRendered(page);
  await screenshot(page, 'consent-phone');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.tap('#allow')]);
  assert.equal(await page.title(), 'Upstream Provider Authentication');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (${overflow} px)`);
  await screenshot(page, 'idp-phone');
  const res = await page.goto(`${as}/authorize?response_type=code&client_id=nope`, { waitUntil: 'networkidle0' });
  assert.equal(res.status(), 400);
  await assertRendered(page);
  await screenshot(page, 'error-phone');
  assert.deepEqual(problems.filter((p) => !/Failed to load resource: the server responded with a status of 400/.test(p)), []);
  await page.close();
});
