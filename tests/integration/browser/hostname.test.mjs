// The splash page at a name that is not loopback, over plain HTTP, as a deployment behind its own
// hostname serves it: `mcpd all` with BASE_URI naming http://mcpd.test:<port> (still listening
// on 127.0.0.1), and chromium resolving mcpd.test to 127.0.0.1 through its --host-resolver-rules
// (every other name but localhost fails). The authorization server keeps its localhost URL: mcpd
// refuses an http issuer that is not loopback (RFC 8414 wants https), so its root is shown at a
// non-loopback name only behind TLS, which this layer does not set up. The splash page renders
// at desktop and phone sizes with every image loaded from its own origin, no console error, no
// failed request and no CSP violation, and stays on http (no upgrade). Screenshots:
// host-splash-<size>.png. Another name mapped to the same address gets 403 (the Host check).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { freePort, spawnMcpd } from '../lib/server.mjs';
import { waitFor } from '../lib/oauth.mjs';
import { DESKTOP, PHONE, assertRendered, launchBrowser, newPage, screenshot } from './harness.mjs';

const HOST = 'mcpd.test';
const OTHER = 'other.test';

let mcpd;
let mcp; // http://mcpd.test:<port>
let as; // http://localhost:<port>
let browser;

before(async () => {
  const [port, authPort] = [await freePort(), await freePort()];
  mcp = `http://${HOST}:${port}`;
  as = `http://localhost:${authPort}`;
  mcpd = await spawnMcpd({ name: 'browser-host', waitPorts: [authPort, port], env: {
    PORT: String(port), AUTH_SERVER_PORT: String(authPort), BASE_URI: mcp, AUTH_SERVER_URL: as }, args: ['all'] });
  const health = `http://127.0.0.1:${port}/health`;
  await waitFor(async () => (await (await fetch(health, { headers: { Host: `${HOST}:${port}` } })).json()).status === 'healthy',
    15000, 'healthy');
  browser = await launchBrowser([`MAP ${HOST} 127.0.0.1`, `MAP ${OTHER} 127.0.0.1`]);
});

after(async () => {
  await browser?.close();
  await mcpd?.stop();
});

for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`at http://${HOST}: the splash page renders at ${size} size, no console error, no CSP violation`, async () => {
    const { page, problems } = await newPage(browser, viewport);
    const res = await page.goto(`${mcp}/`, { waitUntil: 'networkidle0' });
    assert.equal(res.status(), 200);
    assert.equal(page.url(), `${mcp}/`, 'stayed on plain http at the name');
    assert.equal(await page.title(), 'mcpd: MCP server and OAuth 2.1 authorization server');
    await assertRendered(page);
    const images = await page.$$eval('img', (imgs) => imgs.map((i) => new URL(i.src).host));
    for (const h of images) assert.equal(h, new URL(mcp).host, 'images come from the page\'s own origin');
    await screenshot(page, `host-splash-${size}`);
    assert.deepEqual(problems, []);
    await page.close();
  });

}

test('another name mapped to the same address is refused with 403 (the Host check)', async () => {
  // The control: mcpd.test is served because it is the configured name, not because any name is.
  const { page } = await newPage(browser);
  const res = await page.goto(`http://${OTHER}:${new URL(mcp).port}/`, { waitUntil: 'load' });
  assert.equal(res.status(), 403);
  assert.match(await page.evaluate(() => document.body.innerText), /invalid Host header/);
  await page.close();
});
