// The official conformance suite's `authorization` command (0.2.0-alpha.12) against mcpd's
// authorization server, with the browser part done here: the suite prints the /authorize URL and
// waits for its callback on 127.0.0.1:<port>; we fetch the consent page, take the code (the
// first state=), call the mock IdP callback and hand the suite the Location it answers. The
// results are the suite's own checks.json files, one per scenario.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT } from './server.mjs';

export const SUITE = path.join(ROOT, 'tests/integration/node_modules/conformance-alpha/dist/index.js');
const SUITE_TIMEOUT_MS = 60000;

/** Drive one login for the URL the suite printed: consent page, mock IdP, then the callback. */
async function completeLogin(authorizeUrl, userId) {
  const page = await fetch(authorizeUrl, { redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`/authorize answered ${page.status}: ${html.slice(0, 300)}`);
  const m = /state=([^"&]*)/.exec(html);
  if (!m) throw new Error('no state= in the consent page');
  const cb = new URL('/mock-upstream-idp/callback', authorizeUrl);
  cb.searchParams.set('state', m[1]);
  cb.searchParams.set('code', 'mock-auth-code');
  cb.searchParams.set('userId', userId);
  const r = await fetch(cb, { redirect: 'manual' });
  await r.arrayBuffer();
  if (r.status !== 302) throw new Error(`mock IdP callback answered ${r.status}`);
  const location = r.headers.get('location');
  const back = await fetch(location); // the suite's callback server
  await back.arrayBuffer();
  return location;
}

/**
 * Run `conformance authorization --url <issuer> --client-id <id> [--resource] -p <port>`.
 * Resolves to { code, stdout, checks: [{ scenario, id, status, errorMessage }], location }.
 */
export async function runAuthorizationSuite({ issuer, clientId, resource, port, userId = 'suite-user' }) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'mcpd-authsuite-'));
  const args = [SUITE, 'authorization', '--url', issuer, '--client-id', clientId, '-p', String(port), '-o', out];
  if (resource) args.push('--resource', resource);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let login = null;
  proc.stderr.on('data', (d) => { stdout += d; });
  proc.stdout.on('data', (d) => {
    stdout += d;
    const line = stdout.split('\n').find((l) => l.startsWith(`${new URL(issuer).origin}/authorize?`));
    // The callback server starts right after the URL is printed: retry the last step briefly.
    if (line && !login) login = (async () => {
      for (let i = 0; ; i++) {
        try {
          return await completeLogin(line.trim(), userId);
        } catch (e) {
          if (i >= 20) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), SUITE_TIMEOUT_MS);
  const code = await new Promise((resolve) => proc.once('exit', (c, sig) => resolve(c ?? sig)));
  clearTimeout(timer);
  const location = login ? await login.catch((e) => `login failed: ${e.message}`) : null;
  const checks = [];
  for (const dir of readdirSync(out)) {
    const scenario = dir.replace(/^authorization-server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    const list = JSON.parse(readFileSync(path.join(out, dir, 'checks.json'), 'utf8'));
    for (const c of list) checks.push({ scenario, id: c.id, status: c.status, errorMessage: c.errorMessage });
  }
  rmSync(out, { recursive: true, force: true });
  return { code, stdout, checks, location };
}
