// The reference pack's MCP Apps view rendered in a browser by a host. The test is the host: it
// connects to `mcpd mcp --no-auth --features reference` with the official SDK 1.32.2 client
// declaring the MCP Apps extension (io.modelcontextprotocol/ui, text/html;profile=mcp-app), finds
// mcp_apps_hello_world's UI resource in tools/list, calls the tool and reads the resource. Its
// host page (node http on 127.0.0.1, script apps-host.js, a strict CSP of its own) puts the
// view into an iframe sandboxed to allow-scripts only, served from another origin (localhost)
// with the deny-by-default CSP a host gives a view that declares no csp of its own (no network:
// connect-src 'none'). In chromium: the view's ui/initialize is answered, it reports
// initialized and its size, shows the tool input and result the host pushes, and its "Call echo"
// button (with a typed message) makes the host forward tools/call to mcpd, whose answer the view
// shows. No console error, failed request or CSP violation in the host page or the view; the
// view cannot reach its parent's document, and a fetch from it is refused by its CSP (the
// violation is seen, which shows the checks see into the frame). Screenshot: app.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { freePort, startServer } from '../lib/server.mjs';
import { STEP_MS, launchBrowser, newPage, screenshot } from './harness.mjs';

const HOST_JS = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'apps-host.js'));
const APPS = { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } } };
// What a host applies to a view that declares no _meta.ui.csp: nothing from the network.
const VIEW_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; connect-src 'none'";
const MAX_BODY = 64 * 1024;

let mcpd;
let client;
let browser;
let host; // { origin, server, proxied: [params] }
let view; // { origin, server }
let session; // what the host page loads: { toolInput, toolResult, viewUrl }

function listen(handler) {
  return freePort().then((port) => new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(port, '127.0.0.1', () => resolve({ server, port }));
  }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
      if (body.length > MAX_BODY) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
  });
}

/** The host's backend: its page, its script, the session's data and the tools/call proxy. */
async function startHost() {
  const proxied = [];
  const { server, port } = await listen(async (req, res) => {
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/') {
      send(200, 'text/html; charset=utf-8', '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
        '<title>MCP Apps test host</title></head><body><h1>MCP Apps test host</h1><p id="host-status">loading</p>' +
        '<iframe id="app" title="MCP App" sandbox="allow-scripts" style="width:100%;height:200px;border:1px solid #888"></iframe>' +
        '<script src="/host.js"></script></body></html>', {
        'Content-Security-Policy': `default-src 'none'; script-src 'self'; connect-src 'self'; frame-src ${view.origin}; style-src 'unsafe-inline'`,
      });
    } else if (req.method === 'GET' && req.url === '/host.js') {
      send(200, 'text/javascript; charset=utf-8', HOST_JS);
    } else if (req.method === 'GET' && req.url === '/session') {
      send(200, 'application/json', JSON.stringify(session));
    } else if (req.method === 'POST' && req.url === '/proxy') {
      const { method, params } = JSON.parse(await readBody(req));
      // A host decides what a view may ask of the server: here tools/call only.
      if (method !== 'tools/call') return send(200, 'application/json', JSON.stringify({ error: { code: -32601, message: 'Method not found' } }));
      proxied.push(params);
      try {
        send(200, 'application/json', JSON.stringify({ result: await client.callTool(params) }));
      } catch (e) {
        send(200, 'application/json', JSON.stringify({ error: { code: e.code ?? -32603, message: e.message } }));
      }
    } else {
      send(404, 'text/plain', 'not found');
    }
  });
  return { origin: `http://127.0.0.1:${port}`, server, proxied };
}

/** The view's own origin: the resource's HTML as mcpd gave it, under the view CSP. */
async function startView(html) {
  const { server, port } = await listen((req, res) => {
    if (req.method === 'GET' && req.url === '/view.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': VIEW_CSP, 'Cache-Control': 'no-store' });
      res.end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  return { origin: `http://localhost:${port}`, server };
}

before(async () => {
  mcpd = await startServer({ features: 'reference', name: 'browser-apps' });
  client = new Client({ name: 'mcpd-browser-apps-host', version: '1.0.0' }, { capabilities: APPS });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpd.url)));
  const tool = (await client.listTools()).tools.find((t) => t.name === 'mcp_apps_hello_world');
  assert.ok(tool, 'mcp_apps_hello_world is offered to a host declaring the extension');
  const uri = tool._meta.ui.resourceUri;
  assert.equal(uri, 'ui://hello-world/app.html');
  const toolResult = await client.callTool({ name: tool.name, arguments: {} });
  const { contents } = await client.readResource({ uri });
  assert.equal(contents[0].mimeType, 'text/html;profile=mcp-app');
  view = await startView(contents[0].text);
  host = await startHost();
  session = { toolInput: {}, toolResult, viewUrl: `${view.origin}/view.html` };
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const s of [host?.server, view?.server]) if (s) await new Promise((r) => s.close(r));
  await client?.close();
  await mcpd?.stop();
});

const text = (frame, sel) => frame.$eval(sel, (e) => e.textContent);

test('the MCP Apps view renders in a sandboxed iframe, is initialized, shows the tool result, and calls echo through the host', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(`${host.origin}/`, { waitUntil: 'load' });
  const frameHandle = await page.waitForSelector('iframe#app');
  await page.waitForFunction(() => document.getElementById('host-status').textContent === 'view initialized', { timeout: STEP_MS });
  const frame = await frameHandle.contentFrame();
  assert.equal(frame.url(), session.viewUrl);
  await frame.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'), { timeout: STEP_MS });
  assert.equal(await text(frame, '#status'), 'Connected to mcpd browser test host (protocol 2026-01-26)');
  await frame.waitForFunction(() => document.getElementById('tool-result').textContent !== '(not received yet)', { timeout: STEP_MS });
  assert.equal(await text(frame, '#tool-input'), '{}');
  assert.equal(await text(frame, '#tool-result'), JSON.stringify(session.toolResult, null, 2));
  assert.match(await text(frame, '#tool-result'), /Hello World MCP App loaded!/);
  // The host context's style variable reached the view.
  assert.equal(await frame.$eval('pre', (p) => getComputedStyle(p).backgroundColor), 'rgb(232, 238, 252)');

  const message = 'hello from the app frame';
  await frame.$eval('#message', (i) => { i.value = ''; });
  await frame.type('#message', message);
  await frame.click('#call-echo');
  await frame.waitForFunction((t) => document.getElementById('echo-answer').textContent === t, { timeout: STEP_MS }, `Echo: ${message}`);
  assert.deepEqual(host.proxied, [{ name: 'echo', arguments: { message } }]);
  // The iframe grew to the size the view reported.
  const height = await page.$eval('iframe#app', (f) => f.getBoundingClientRect().height);
  assert.ok(height > 200, `the frame follows the view's size-changed (${height} px)`);
  await screenshot(page, 'app');

  // The conversation, in order: the view's handshake first, the call last.
  const trace = await page.evaluate(() => window.appTrace.map((t) => `${t.dir} ${t.m.method ?? (t.m.error ? 'error' : 'result')}`));
  assert.deepEqual(trace.slice(0, 5), ['from-view ui/initialize', 'to-view result', 'from-view ui/notifications/initialized',
    'to-view ui/notifications/tool-input', 'to-view ui/notifications/tool-result']);
  assert.deepEqual(trace.filter((t) => !t.endsWith('size-changed')).slice(5), ['from-view tools/call', 'to-view result']);
  assert.deepEqual(problems, []);

  // The sandbox holds: the view cannot reach its host's document, and its CSP refuses a fetch.
  assert.equal(await frame.evaluate(() => { try { return String(window.parent.document.title); } catch { return 'blocked'; } }), 'blocked');
  const fetched = await frame.evaluate((u) => fetch(u).then(() => 'fetched', () => 'refused'), `${host.origin}/session`);
  assert.equal(fetched, 'refused');
  const deadline = Date.now() + STEP_MS;
  while (!problems.some((p) => /CSP violation: connect-src/.test(p)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(problems.some((p) => /CSP violation: connect-src/.test(p)), `the view's CSP violation is seen: ${problems}`);
  await page.close();
});
