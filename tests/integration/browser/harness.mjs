// What the browser tests share: Debian's chromium launched headless by puppeteer-core with no
// background networking and a resolver that knows only the names a test maps (every other name
// fails, so nothing leaves the machine); pages that record every console error or warning, page
// error, failed request and Content-Security-Policy violation (in every frame); the rendering
// check of mcpd's own pages; and screenshots into the layer's log directory
// (build/test-logs/browser-<build>/, from MCPD_LOG_DIR).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import puppeteer from 'puppeteer-core';

import { ROOT } from '../lib/server.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const STEP_MS = 15000; // one navigation or wait
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };

const SHOT_DIR = path.resolve(ROOT, process.env.MCPD_LOG_DIR ?? 'build/test-logs/browser');

/**
 * Chromium, headless. hostRules: extra `MAP name 127.0.0.1` rules (e.g. a non-loopback name
 * standing for a deployment); localhost and 127.0.0.1 always work, every other name fails.
 */
export function launchBrowser(hostRules = []) {
  const rules = [...hostRules, 'MAP * ~NOTFOUND', 'EXCLUDE localhost', 'EXCLUDE 127.0.0.1'].join(', ');
  return puppeteer.launch({
    executablePath: CHROMIUM, headless: true, timeout: 30000, protocolTimeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
      `--host-resolver-rules=${rules}`],
  });
}

/**
 * A new page (viewport: DESKTOP unless given) that records console errors and warnings, page
 * errors, failed requests and CSP violations (the securitypolicyviolation event, in every frame,
 * and Chrome's console lines about refusals). Resolves to { page, problems }.
 */
export async function newPage(browser, viewport = DESKTOP) {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.setViewport(viewport);
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return { page, problems };
}

/** A full-page screenshot as <log dir>/<name>.png; returns the path. */
export async function screenshot(page, name) {
  mkdirSync(SHOT_DIR, { recursive: true });
  const file = path.join(SHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** mcpd's pages: every image loaded, the stylesheet applied, nothing wider than the viewport. */
export async function assertRendered(page) {
  const r = await page.evaluate(() => ({
    images: [...document.images].map((i) => ({ src: i.src, ok: i.complete && i.naturalWidth > 0 })),
    sheets: document.styleSheets.length,
    font: getComputedStyle(document.body).fontFamily,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  }));
  assert.ok(r.images.length > 0, 'the page shows an image');
  for (const i of r.images) assert.ok(i.ok, `image ${i.src} loaded`);
  assert.ok(r.sheets > 0, 'a stylesheet applies');
  assert.doesNotMatch(r.font, /^"?Times/, 'the page font comes from the stylesheet');
  assert.ok(r.overflow <= 0, `no horizontal scrolling (${r.overflow} px wider than the viewport)`);
}

/** Click the visible button whose text is exactly `text` (inside `scope`, a CSS selector). */
export async function clickButton(page, text, scope = 'body') {
  const h = await page.waitForFunction((t, s) => [...document.querySelectorAll(`${s} button`)]
    .find((b) => b.innerText.trim() === t && b.offsetParent !== null), { timeout: STEP_MS }, text, scope);
  await h.asElement().click();
}

/** Resolves once the page's text contains `text` (a string or RegExp source). */
export async function waitForText(page, text, timeout = STEP_MS) {
  await page.waitForFunction((t) => document.body?.innerText.includes(t), { timeout }, text);
}
