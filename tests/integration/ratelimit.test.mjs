// Rate limits of the MCP role (src/core/ratelimit.c, src/mcp/server.c): fixed one-minute windows
// per client IP, aligned to the epoch minute. --rate-limit-mcp counts /mcp, /sse and /message
// together (off by default); --rate-limit-static counts the splash page and its assets (500 by
// default). Every counted answer carries RateLimit-Limit/-Remaining/-Reset and their X- twins;
// past the limit: 429, Retry-After and {"error":"too_many_requests","error_description":…}.
// /health is never counted. Clients are told apart by address: node binds them to 127.0.0.x
// (all loopback on Linux), which the server on 127.0.0.1 sees as the client IP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startServer } from './lib/server.mjs';

const MCP_LIMIT = 5;
const STATIC_LIMIT = 3;
const WINDOW_S = 60;

let limited;
let defaults;

before(async () => {
  [limited, defaults] = await Promise.all([
    startServer({ name: 'ratelimit', features: 'reference',
      extraArgs: ['--rate-limit-mcp', String(MCP_LIMIT), '--rate-limit-static', String(STATIC_LIMIT)] }),
    startServer({ name: 'ratelimit-defaults', features: 'reference' }),
  ]);
});

after(async () => {
  const r = await Promise.allSettled([limited?.stop(), defaults?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'rl', version: '1' } } });
const PING = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });

/**
 * One request on a fresh connection from localAddress. Resolves to { status, headers, text,
 * json }. A 200 event stream (GET /sse) is not read: its headers are all this needs.
 */
function hit(srv, { path, method = 'GET', body, from, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path, method, localAddress: from, agent: false,
      headers: { Accept: 'application/json, text/event-stream', ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
      timeout: 15000 }, (res) => {
      const done = (text) => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* SSE or empty */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json, path });
      };
      if (res.statusCode === 200 && /^text\/event-stream/.test(res.headers['content-type'] ?? '') && path.startsWith('/sse')) {
        res.destroy();
        done('');
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => done(text));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const mcpInit = (srv, from) => hit(srv, { path: '/mcp', method: 'POST', body: INIT, from });

/** The epoch minute a counted answer belongs to, from X-RateLimit-Reset (that window's end). */
function windowOf(r) {
  const end = Number(r.headers['x-ratelimit-reset']);
  assert.ok(Number.isInteger(end), `${r.path}: X-RateLimit-Reset ${r.headers['x-ratelimit-reset']}`);
  // The server adds its seconds-to-reset to time(NULL) read a moment later: within a second of
  // the minute's end.
  const minute = Math.round(end / WINDOW_S);
  assert.ok(Math.abs(end - minute * WINDOW_S) <= 1, `${r.path}: X-RateLimit-Reset ${end} is not a minute boundary`);
  return minute;
}

/** A counted answer within the limit. */
function assertCounted(r, status, limit, remaining) {
  assert.equal(r.status, status, `${r.path}: ${r.status} ${r.text}`);
  assert.equal(r.headers['ratelimit-limit'], String(limit), r.path);
  assert.equal(r.headers['ratelimit-remaining'], String(remaining), r.path);
  assert.equal(r.headers['x-ratelimit-limit'], String(limit), r.path);
  assert.equal(r.headers['x-ratelimit-remaining'], String(remaining), r.path);
  const reset = Number(r.headers['ratelimit-reset']);
  assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= WINDOW_S, `${r.path}: RateLimit-Reset ${reset}`);
  assert.equal(r.headers['retry-after'], undefined, `${r.path}: Retry-After only on 429`);
}

/** A refused answer: 429, the limiter's exact body, Retry-After = seconds to the window's end. */
function assertRefused(r, limit, description) {
  assert.equal(r.status, 429, `${r.path}: ${r.status} ${r.text}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(r.json, { error: 'too_many_requests', error_description: description });
  assert.equal(r.headers['ratelimit-limit'], String(limit));
  assert.equal(r.headers['ratelimit-remaining'], '0');
  assert.equal(r.headers['x-ratelimit-remaining'], '0');
  const reset = Number(r.headers['ratelimit-reset']);
  assert.ok(Number.isInteger(reset) && reset >= 1 && reset <= WINDOW_S, `RateLimit-Reset ${reset}`);
  assert.equal(r.headers['retry-after'], String(reset));
}

/**
 * Run fn(addr) (addr(i): the i-th client address of this run) until every counted answer it returns fell in one window. Counters restart
 * at each epoch minute, so a run that straddles one proves nothing; the next run uses fresh
 * addresses (fresh counters), and a run takes far less than a minute, so the second one holds.
 */
async function inOneWindow(t, firstAddress, fn) {
  for (let attempt = 0; attempt < 3; attempt++) {
    // Not needed for correctness (the window check is), only to make a retry rare.
    const toBoundary = WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000));
    if (toBoundary < 3000) await sleep(toBoundary + 200);
    const addr = (i) => `127.0.0.${firstAddress + 10 * attempt + i}`;
    const answers = await fn(addr);
    const windows = new Set(answers.map(windowOf));
    if (windows.size === 1) return;
    t.diagnostic(`attempt ${attempt + 1} straddled a window boundary; again with fresh addresses`);
  }
  assert.fail('three runs in a row straddled a window boundary');
}

test(`--rate-limit-mcp ${MCP_LIMIT}: /mcp, /sse and /message share one count per client IP; the next is 429`, async (t) => {
  await inOneWindow(t, 10, async (addr) => {
    const A = addr(0);
    const B = addr(1);
    const answers = [];
    const count = (r) => { answers.push(r); return r; };
    assertCounted(count(await mcpInit(limited, A)), 200, MCP_LIMIT, 4);
    const msg = count(await hit(limited, { path: '/message?sessionId=no-such-session', method: 'POST', body: PING, from: A }));
    assertCounted(msg, 404, MCP_LIMIT, 3);
    assert.deepEqual(msg.json, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    assertCounted(count(await hit(limited, { path: '/sse', from: A, headers: { Accept: 'text/event-stream' } })), 200, MCP_LIMIT, 2);
    assertCounted(count(await mcpInit(limited, A)), 200, MCP_LIMIT, 1);
    assertCounted(count(await mcpInit(limited, A)), 200, MCP_LIMIT, 0);

    // Past the limit, on every MCP route.
    assertRefused(count(await mcpInit(limited, A)), MCP_LIMIT, 'MCP rate limit exceeded');
    assertRefused(count(await hit(limited, { path: '/sse', from: A, headers: { Accept: 'text/event-stream' } })), MCP_LIMIT, 'MCP rate limit exceeded');
    assertRefused(count(await hit(limited, { path: '/message?sessionId=no-such-session', method: 'POST', body: PING, from: A })),
      MCP_LIMIT, 'MCP rate limit exceeded');

    // /health is never counted; another address has its own count.
    const health = await hit(limited, { path: '/health', from: A });
    assert.equal(health.status, 200, health.text);
    assert.equal(health.json.status, 'healthy');
    assert.equal(health.headers['ratelimit-limit'], undefined);
    assertCounted(count(await mcpInit(limited, B)), 200, MCP_LIMIT, 4);
    return answers;
  });
});

test(`--rate-limit-static ${STATIC_LIMIT}: the splash page has its own count; past it 429`, async (t) => {
  await inOneWindow(t, 100, async (addr) => {
    const C = addr(0);
    const answers = [];
    const count = (r) => { answers.push(r); return r; };
    for (let remaining = STATIC_LIMIT - 1; remaining >= 0; remaining--) {
      const r = count(await hit(limited, { path: '/', from: C, headers: { Accept: 'text/html' } }));
      assertCounted(r, 200, STATIC_LIMIT, remaining);
      assert.match(r.headers['content-type'], /^text\/html/);
    }
    assertRefused(count(await hit(limited, { path: '/', from: C, headers: { Accept: 'text/html' } })), STATIC_LIMIT,
      'Static file rate limit exceeded');
    // The MCP count of the same address is untouched.
    assertCounted(count(await mcpInit(limited, C)), 200, MCP_LIMIT, MCP_LIMIT - 1);
    return answers;
  });
});

test('defaults: /mcp is not limited (no RateLimit headers); the splash page allows 500 a minute', async () => {
  const A = '127.0.0.200';
  for (let i = 0; i < MCP_LIMIT + 2; i++) {
    const r = await mcpInit(defaults, A);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['ratelimit-limit'], undefined);
    assert.equal(r.headers['x-ratelimit-limit'], undefined);
  }
  const page = await hit(defaults, { path: '/', from: A, headers: { Accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.equal(page.headers['ratelimit-limit'], '500');
});

test('both mcpd stop cleanly on SIGTERM with no sanitizer report', async () => {
  await limited.stop();
  await defaults.stop();
});
