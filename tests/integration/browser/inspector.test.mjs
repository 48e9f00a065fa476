// The MCP Inspector's web UI (v2.12.0, tests/integration/node_modules) driven in chromium the way
// README.md tells a newcomer to use it, against `mcpd all` with localhost URLs: Add Servers,
// + Add manually, a server ID, the transport, the URL, Add, the connect switch; mcpd answers 401,
// the Inspector (in the browser) discovers the authorization server, registers itself and sends
// the page to mcpd's consent page: Allow, the mock identity provider's form, Sign in, back at the
// Inspector's /oauth/callback, connected; the Tools tab lists the reference pack's tools, echo is
// called with a typed message and its result shown; over /mcp also the Apps tab, where the
// Inspector renders mcp_apps_hello_world's view, which calls echo through it. Once over Streamable HTTP (/mcp) and once
// over the legacy HTTP+SSE transport (/sse), each with its own login; and Deny on the consent page
// brings the Inspector back with access_denied and the server not connected. The Inspector runs on free
// loopback ports with a fresh HOME (its server list and state), secrets in memory, no browser
// opened by it, and the page is opened at the URL it prints (http://127.0.0.1:<port>/?MCP_INSPECTOR_API_TOKEN=…,
// so its OAuth redirect URI is http://127.0.0.1:<port>/oauth/callback); its page asks for Google Fonts, which the browser cannot resolve: that one
// failed request and its console line are the only problems allowed, and only on the
// Inspector's own origin. Screenshots: inspector-consent.png, inspector-idp.png,
// inspector-mcp.png, inspector-sse.png, inspector-app.png, inspector-deny.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT, freePort, spawnMcpd } from '../lib/server.mjs';
import { waitFor } from '../lib/oauth.mjs';
import { STEP_MS, clickButton, launchBrowser, newPage, screenshot, waitForText } from './harness.mjs';

const INSPECTOR = path.join(ROOT, 'tests/integration/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const TOKEN = 'browser-layer-inspector-token';

let mcpd;
let mcp; // http://localhost:<port>
let as; // the authorization server, http://localhost:<port>
let browser;
let inspector; // { url, proc, output, home }

/** The Inspector's web server on free loopback ports; resolves once it prints its URL. */
async function startInspector() {
  const home = mkdtempSync(path.join(os.tmpdir(), 'mcpd-inspector-'));
  const [web, sandbox, appOrigin] = [await freePort(), await freePort(), await freePort()];
  const proc = spawn(process.execPath, [INSPECTOR, '--web'], { cwd: home, stdio: ['ignore', 'pipe', 'pipe'], env: {
    ...process.env, HOME: home, CLIENT_PORT: String(web), MCP_SANDBOX_PORT: String(sandbox),
    MCP_APP_ORIGIN_PORT: String(appOrigin), MCP_AUTO_OPEN_ENABLED: 'false', MCP_INSPECTOR_API_TOKEN: TOKEN,
    MCP_INSPECTOR_SECRET_STORE: 'memory' } });
  const output = [];
  proc.stdout.on('data', (d) => output.push(String(d)));
  proc.stderr.on('data', (d) => output.push(String(d)));
  // The URL it prints is the one README.md tells the user to open.
  const printed = () => output.join('').match(/MCP Inspector Web is up and running at:\s+(\S+)/)?.[1];
  await waitFor(printed, STEP_MS, 'the Inspector to print its URL');
  const url = new URL(printed());
  assert.equal(url.port, String(web));
  assert.equal(url.searchParams.get('MCP_INSPECTOR_API_TOKEN'), TOKEN);
  return { url: url.href, origin: url.origin, proc, output, home };
}

before(async () => {
  const [port, authPort] = [await freePort(), await freePort()];
  mcp = `http://localhost:${port}`;
  as = `http://localhost:${authPort}`;
  mcpd = await spawnMcpd({ name: 'browser-inspector', waitPorts: [authPort, port], env: {
    PORT: String(port), AUTH_SERVER_PORT: String(authPort), BASE_URI: mcp, AUTH_SERVER_URL: as },
  args: ['all'] });
  await waitFor(async () => (await (await fetch(`${mcp}/health`)).json()).status === 'healthy', 15000, 'healthy');
  inspector = await startInspector();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (inspector) {
    const { proc } = inspector;
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(inspector.home, { recursive: true, force: true });
  }
  await mcpd?.stop();
});

/** What is left of a page's problems once the Inspector's own Google Fonts request is set aside. */
function unexpected(problems) {
  return problems.filter((p) => !/^request failed: https:\/\/fonts\.googleapis\.com\/.* net::ERR_NAME_NOT_RESOLVED$/.test(p) &&
    p !== 'console error: Failed to load resource: net::ERR_NAME_NOT_RESOLVED' &&
    // The Inspector's own event stream, cut when the page leaves for the consent page.
    !(p.startsWith(`request failed: ${inspector.origin}/api/mcp/events?sessionId=`) && p.endsWith(' net::ERR_ABORTED')));
}

/** README.md's steps 1-2: Add Servers, + Add manually, ID, transport, URL, Add. */
async function addServer(page, id, transport, url) {
  await clickButton(page, 'Add Servers');
  await page.click('[role=menuitem]::-p-text(Add manually)');
  await page.waitForSelector('[role=dialog] input[placeholder="my-server"]');
  await page.type('[role=dialog] input[placeholder="my-server"]', id);
  await page.click('[role=dialog] input[value="stdio (local process)"]');
  await page.click(`[role=option]::-p-text(${transport})`);
  await page.waitForSelector('[role=dialog] input[placeholder="https://example.com/mcp"]');
  await page.type('[role=dialog] input[placeholder="https://example.com/mcp"]', url);
  await clickButton(page, 'Add', '[role=dialog]');
  await page.waitForSelector('[role=dialog]', { hidden: true });
}

/** Steps 3-6: the switch, consent Allow, the mock IdP's Sign in, back in the Inspector, connected. */
async function connectWithLogin(page, id, shots) {
  await page.click(`input[role=switch][aria-label='Connect or disconnect "${id}"']`);
  await page.waitForSelector('#allow', { timeout: STEP_MS });
  assert.equal(new URL(page.url()).pathname, '/authorize');
  assert.equal(await page.title(), 'MCP Server Authorization');
  const details = await page.$$eval('.row', (rows) => rows.map((r) => r.innerText.replace(/\s+/g, ' ').trim()));
  assert.ok(details.includes(`REDIRECTS TO ${new URL(inspector.origin).host}`), `consent names the Inspector's host: ${details}`);
  if (shots) await screenshot(page, 'inspector-consent');
  await Promise.all([page.waitForNavigation(), page.click('#allow')]);
  assert.equal(await page.title(), 'Upstream Provider Authentication');
  if (shots) await screenshot(page, 'inspector-idp');
  await Promise.all([page.waitForNavigation(), page.click('#complete')]);
  assert.equal(new URL(page.url()).origin, inspector.origin);
  await waitForText(page, 'Authorization complete');
  await page.waitForFunction((sel) => document.querySelector(sel)?.checked === true, { timeout: STEP_MS },
    `input[role=switch][aria-label='Connect or disconnect "${id}"']`);
}

/** The Tools tab: the reference pack's tools listed, echo called with a typed message. */
async function callEcho(page, message) {
  await page.click('label::-p-text(Tools)');
  await waitForText(page, 'Tools (9)');
  const names = await page.$$eval('button', (bs) => bs.map((b) => b.innerText.trim()));
  for (const t of ['echo', 'add', 'longRunningOperation', 'sampleLLM', 'getTinyImage', 'annotatedMessage',
    'getResourceReference', 'elicitInputs', 'mcp_apps_hello_world']) assert.ok(names.includes(t), `tool ${t} listed`);
  await clickButton(page, 'echo');
  const id = await page.$eval('label::-p-text(message)', (l) => l.htmlFor);
  await page.type(`[id="${id}"]`, message);
  await clickButton(page, 'Execute Tool');
  await waitForText(page, `Echo: ${message}`);
}

/**
 * The Apps tab: the Inspector, a real MCP Apps host, renders mcp_apps_hello_world's view (its
 * sandbox proxy on another port, the view in a srcdoc frame inside it), which completes the
 * handshake, shows the tool result and calls echo through the Inspector.
 */
async function openApp(page) {
  await page.click('label::-p-text(Apps)');
  await waitForText(page, 'MCP Apps (1)');
  const entry = await page.waitForFunction(() => [...document.querySelectorAll('button')]
    .find((b) => b.offsetParent !== null && b.innerText.startsWith('mcp_apps_hello_world\n')), { timeout: STEP_MS });
  await entry.asElement().click();
  const view = await waitFor(() => page.frames().find((f) => f.url() === 'about:srcdoc' &&
    f.parentFrame()?.url().endsWith('/sandbox')), STEP_MS, 'the app view frame');
  await view.waitForFunction(() => document.getElementById('status')?.textContent.startsWith('Connected'), { timeout: STEP_MS });
  assert.equal(await view.$eval('#status', (e) => e.textContent), 'Connected to MCP Inspector (protocol 2026-01-26)');
  await view.waitForFunction(() => /Hello World MCP App loaded!/.test(document.getElementById('tool-result').textContent), { timeout: STEP_MS });
  await view.$eval('#message', (i) => { i.value = ''; });
  await view.type('#message', 'hello from the app in the Inspector');
  await view.click('#call-echo');
  await view.waitForFunction(() => document.getElementById('echo-answer').textContent === 'Echo: hello from the app in the Inspector',
    { timeout: STEP_MS });
  await view.$eval('#echo-answer', (e) => e.scrollIntoView());
  await screenshot(page, 'inspector-app');
}

// First, while the Inspector holds no token for the URL (once logged in, it would connect without asking).
test('Deny on the consent page sends the Inspector back with access_denied, not connected', async () => {
  const { page } = await newPage(browser);
  await page.goto(inspector.url, { waitUntil: 'domcontentloaded' });
  await waitForText(page, 'Add Servers');
  const id = 'mcpd-deny';
  await addServer(page, id, 'streamable-http', `${mcp}/mcp`);
  await page.click(`input[role=switch][aria-label='Connect or disconnect "${id}"']`);
  await page.waitForSelector('#deny', { timeout: STEP_MS });
  await Promise.all([page.waitForNavigation(), page.click('#deny')]);
  const back = new URL(page.url());
  assert.equal(back.origin, inspector.origin);
  assert.equal(back.pathname, '/oauth/callback');
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('code'), null);
  // The Inspector names the refusal with mcpd's error_description and leaves the server off.
  await waitForText(page, 'Error: access_denied. Details: The user denied the request.');
  const sw = `input[role=switch][aria-label='Connect or disconnect "${id}"']`;
  await page.waitForSelector(sw);
  assert.equal(await page.$eval(sw, (i) => i.checked), false);
  await waitForText(page, 'Failed');
  await screenshot(page, 'inspector-deny');
  await page.close();
});

for (const [kind, transport, route] of [['mcp', 'streamable-http', '/mcp'], ['sse', 'sse (Server-Sent Events)', '/sse']]) {
  test(`the Inspector web UI connects to ${route} with the OAuth login and calls echo`, async () => {
    const { page, problems } = await newPage(browser);
    const refused = []; // every answer >= 400 the page got: status, method, origin + path, body
    page.on('response', (r) => {
      if (r.status() < 400) return;
      const u = new URL(r.url());
      refused.push(r.text().then((t) => `${r.status()} ${r.request().method()} ${u.origin}${u.pathname} ${t}`, () => `${r.status()} ${u.pathname}`));
    });
    await page.goto(inspector.url, { waitUntil: 'domcontentloaded' });
    await waitForText(page, 'Add Servers');
    const id = `mcpd-${kind}`;
    await addServer(page, id, transport, `${mcp}${route}`);
    await connectWithLogin(page, id, kind === 'mcp');
    await callEcho(page, `hello over ${route}`);
    await screenshot(page, `inspector-${kind}`);
    if (kind === 'mcp') await openApp(page);
    // The server's card: connected, with the transport and URL it was given.
    await page.click('label::-p-text(Servers)');
    const card = await page.waitForFunction((sel) => {
      let e = document.querySelector(sel);
      while (e && !e.innerText?.includes('Clone')) e = e.parentElement;
      return e?.innerText;
    }, { timeout: STEP_MS }, `input[role=switch][aria-label='Connect or disconnect "${id}"']`);
    const text = await card.jsonValue();
    assert.match(text, /\bConnected\b/);
    assert.match(text, kind === 'mcp' ? /Streamable HTTP/ : /\bSSE\b/);
    assert.ok(text.includes(`${mcp}${route}`), text);
    // Over /sse the Inspector's own backend turns mcpd's 401 on GET /sse into a 500 of its
    // /api/mcp/connect (its message names the 401), after which its page starts the login, at
    // times twice (the first navigation to /authorize then aborted by the second). Over /mcp it
    // answers the 401 as such and nothing fails.
    const seen = await Promise.all(refused);
    if (kind === 'sse') {
      assert.deepEqual(seen, [`500 POST ${inspector.origin}/api/mcp/connect {"error":"Failed to start transport: SSE error: MCP auth challenge (401)"}`]);
      assert.deepEqual(unexpected(problems).filter((p) => p !== 'console error: Failed to load resource: the server responded with a status of 500 (Internal Server Error)' &&
        !p.startsWith(`request failed: ${as}/authorize?response_type=code&`)), []);
    } else {
      assert.deepEqual(seen, []);
      assert.deepEqual(unexpected(problems), []);
    }
    await page.close();
  });
}
