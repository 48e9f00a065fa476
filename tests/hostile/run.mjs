// The hostile-input runner: every case of cases.mjs goes out over a raw TCP socket (so malformed
// framing leaves exactly as written), its answer is compared with the expected status and body,
// and then GET /health on the same listener must answer 200: a case passes only when both hold.
// One line per case ("ok   …" / "FAIL …"), a clean-stop check per server, "N passed, N failed".
//
// Servers, from $MCPD_BIN (tests/integration/lib): `mcpd all` with authorization on (the MCP
// listener is target "mcp", the authorization server "as"; a token comes from the real login
// helpers) and `mcpd mcp --no-auth` (target "noauth"), both with the reference feature pack.
//   node tests/hostile/run.mjs [--record] [--only <regex>]
// --record prints what each case got (status, headers, body) instead of judging it.
import net from 'node:net';
import { isDeepStrictEqual } from 'node:util';

import { INIT, login, mcpPost, openSession, REDIRECT_URI, startOAuthServers } from '../integration/lib/oauth.mjs';
import { startServer } from '../integration/lib/server.mjs';
import { CASES } from './cases.mjs';

const CASE_TIMEOUT_MS = Number(process.env.HOSTILE_CASE_TIMEOUT_MS ?? 5000);
const STREAM_WAIT_MS = 300; // a stream's head arrived: how long to collect what follows
const args = process.argv.slice(2);
const RECORD = args.includes('--record');
const onlyAt = args.indexOf('--only');
const ONLY = onlyAt >= 0 ? new RegExp(args[onlyAt + 1]) : null;

let passed = 0;
let failed = 0;
const ok = (what) => { passed++; console.log(`ok   ${what}`); };
const fail = (what) => { failed++; console.log(`FAIL ${what}`); };

// ------------------------------------------------------------------------ raw exchange ----

/** Split a response held in buf; null while incomplete. Returns { status, headers, body, rest }. */
function parseResponse(buf, { eof, stream }) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return eof ? { status: 'truncated', headers: {}, body: buf.toString('latin1'), rest: Buffer.alloc(0) } : null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) {
      const k = l.slice(0, i).trim().toLowerCase();
      headers[k] = headers[k] === undefined ? l.slice(i + 1).trim() : `${headers[k]}, ${l.slice(i + 1).trim()}`;
    }
  }
  const status = m ? Number(m[1]) : `bad status line: ${lines[0]}`;
  let at = end + 4;
  if (status === 100) { // interim: the real answer follows
    const next = parseResponse(buf.subarray(at), { eof, stream });
    return next && { ...next, interim: 100 };
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < at + n) return eof ? { status, headers, body: buf.subarray(at).toString(), rest: Buffer.alloc(0), short: true } : null;
    return { status, headers, body: buf.subarray(at, at + n).toString(), rest: buf.subarray(at + n) };
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf('\r\n', at);
      if (le < 0) break;
      const size = parseInt(buf.subarray(at, le).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        const tend = buf.indexOf('\r\n', le + 2);
        if (tend < 0) break;
        return { status, headers, body: Buffer.concat(parts).toString(), rest: buf.subarray(tend + 2) };
      }
      if (buf.length < le + 2 + size + 2) break;
      parts.push(buf.subarray(le + 2, le + 2 + size));
      at = le + 2 + size + 2;
    }
    if (eof || stream) return { status, headers, body: Buffer.concat(parts).toString(), rest: Buffer.alloc(0), open: !eof };
    return null;
  }
  if (eof || stream) return { status, headers, body: buf.subarray(at).toString(), rest: Buffer.alloc(0), open: !eof };
  return null;
}

/**
 * Send bytes to 127.0.0.1:port; resolves to the parsed answer plus closed (the server closed the
 * connection within the case's bound after answering) and extra (bytes after the first answer).
 * A connection closed with no answer is status 'closed'; no answer in time is 'timeout'.
 * wantClose: wait for the server's close after the answer; stream: the answer may stay open.
 */
function exchange(port, bytes, { wantClose = false, stream = false, chunks = null, delayMs = 0 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let done = false;
    let answer = null;
    let streamTimer = null;
    const finish = (res) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(streamTimer);
      sock.destroy();
      resolve(res);
    };
    const timer = setTimeout(() => {
      if (answer) finish({ ...answer, closed: false, extra: answer.rest.toString('latin1') });
      else finish({ status: buf.length ? 'incomplete' : 'timeout', headers: {}, body: buf.toString('latin1'), closed: false });
    }, CASE_TIMEOUT_MS);
    const look = (eof) => {
      if (done) return;
      if (!answer) {
        answer = parseResponse(buf, { eof, stream: false });
        if (!answer && stream && buf.indexOf('\r\n\r\n') >= 0) {
          // A stream: collect briefly, then judge what came.
          if (!streamTimer) streamTimer = setTimeout(() => finish({ ...parseResponse(buf, { eof: false, stream: true }), closed: false, extra: '' }), STREAM_WAIT_MS);
          return;
        }
        if (!answer) {
          if (eof) finish({ status: 'closed', headers: {}, body: '', closed: true });
          return;
        }
      }
      if (eof) {
        const again = parseResponse(buf, { eof: true, stream: false }) ?? answer;
        finish({ ...again, closed: true, extra: again.rest.toString('latin1') });
      } else if (!wantClose) {
        finish({ ...answer, closed: false, extra: answer.rest.toString('latin1') });
      }
    };
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); look(false); });
    sock.on('end', () => look(true));
    sock.on('close', () => look(true));
    sock.on('error', () => look(true));
    sock.on('connect', async () => {
      if (!chunks) { sock.write(bytes); return; }
      for (const c of chunks) { // slow writes: each piece its own segment
        if (done) return;
        sock.write(c);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    });
  });
}

// --------------------------------------------------------------------- building requests ----

function fill(s, ctx, target) {
  return s.replace(/\{(HOST|TOKEN|SID|NSID0326|NSID|CLIENT_ID|CLIENT_SECRET|REDIRECT|MCP_ORIGIN|AS_ORIGIN|REFRESH|AS_HOST|MCP_HOST|AS_ISS_Q)\}/g, (_, k) => {
    switch (k) {
      case 'HOST': return `127.0.0.1:${ctx.ports[target]}`;
      case 'AS_HOST': return `127.0.0.1:${ctx.ports.as}`;
      case 'MCP_HOST': return `127.0.0.1:${ctx.ports.mcp}`;
      case 'TOKEN': return ctx.token;
      case 'SID': return ctx.sid;
      case 'NSID': return ctx.nsid;
      case 'NSID0326': return ctx.nsid0326;
      case 'CLIENT_ID': return ctx.client.client_id;
      case 'CLIENT_SECRET': return ctx.client.client_secret;
      case 'REDIRECT': return REDIRECT_URI;
      case 'MCP_ORIGIN': return `http://127.0.0.1:${ctx.ports.mcp}`;
      case 'AS_ORIGIN': return `http://127.0.0.1:${ctx.ports.as}`;
      case 'AS_ISS_Q': return encodeURIComponent(`http://127.0.0.1:${ctx.ports.as}`); // the issuer, as iss= carries it
      case 'REFRESH': return ctx.refresh;
      default: return '';
    }
  });
}

/** The request bytes of a case: raw as written, or built from method/path/headers/body. */
function requestBytes(c, ctx) {
  const target = c.target;
  if (c.raw !== undefined) {
    const r = typeof c.raw === 'function' ? c.raw(ctx) : c.raw;
    return Buffer.isBuffer(r) ? r : Buffer.from(fill(r, ctx, target), 'latin1');
  }
  let method = c.method ?? 'GET';
  let path = c.path ?? '/';
  const h = {};
  let body = c.body;
  if (c.rpc !== undefined) { // a JSON-RPC POST to /mcp
    method = 'POST';
    path = c.path ?? '/mcp';
    body = c.rpc;
    h['Content-Type'] = 'application/json';
    h.Accept = 'application/json, text/event-stream';
    h['MCP-Protocol-Version'] = '2025-06-18';
  }
  if (c.form !== undefined) { // an x-www-form-urlencoded POST (values filled in first)
    method = 'POST';
    const f = typeof c.form === 'function' ? c.form(ctx) : c.form;
    body = Object.entries(f).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(fill(String(v), ctx, target))}`).join('&');
    h['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (c.session) h['Mcp-Session-Id'] = target === 'noauth' ? '{NSID}' : '{SID}';
  if (target === 'mcp' && c.auth !== false) h.Authorization = 'Bearer {TOKEN}';
  h.Host = '{HOST}';
  h.Connection = 'close';
  Object.assign(h, c.headers ?? {});
  if (typeof body === 'function') body = body(ctx);
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) body = JSON.stringify(body);
  if (typeof body === 'string') body = Buffer.from(fill(body, ctx, target));
  if (body !== undefined && h['Content-Length'] === undefined && h['Transfer-Encoding'] === undefined) h['Content-Length'] = String(body.length);
  let head = `${method} ${fill(path, ctx, target)} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) if (v !== null) head += `${k}: ${fill(String(v), ctx, target)}\r\n`;
  head += '\r\n';
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** JSON of a body: plain JSON, or the JSON of the data: lines of an SSE body (one, or an array). */
function bodyJson(res) {
  try {
    return JSON.parse(res.body);
  } catch { /* maybe SSE */ }
  if (/text\/event-stream/.test(res.headers['content-type'] ?? '')) {
    const data = res.body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter((d) => d.startsWith('{') || d.startsWith('['));
    try {
      const all = data.map((d) => JSON.parse(d));
      return all.length === 1 ? all[0] : all.length ? all : undefined;
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** Each key of want is in got with an equal value (objects: recursively). */
function subset(got, want) {
  if (want instanceof RegExp) return typeof got === 'string' && want.test(got);
  if (want === null || typeof want !== 'object') return isDeepStrictEqual(got, want);
  if (got === null || typeof got !== 'object') return false;
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => subset(got[i], w));
  return Object.entries(want).every(([k, v]) => (v === undefined ? !(k in got) : subset(got[k], v)));
}

/** What is wrong with res for case c; null when nothing. */
function judge(c, res, ctx) {
  const e = c.expect;
  const show = () => `got ${res.status} ${JSON.stringify(res.body.slice(0, 300))}`;
  if (res.status !== e.status) return `status: want ${e.status}, ${show()}`;
  if (e.body !== undefined) {
    if (typeof e.body === 'string') {
      const want = fill(e.body, ctx, c.target);
      if (res.body !== want) return `body: want ${JSON.stringify(want)}, ${show()}`;
    } else {
      const want = typeof e.body === 'function' ? e.body(ctx) : e.body;
      if (!isDeepStrictEqual(bodyJson(res), want)) return `body: want ${JSON.stringify(want)}, ${show()}`;
    }
  }
  if (e.json !== undefined && !subset(bodyJson(res), e.json)) return `body: want fields ${JSON.stringify(e.json, (k, v) => (v instanceof RegExp ? String(v) : v))}, ${show()}`;
  if (e.match !== undefined && !e.match.test(res.body)) return `body: want ${e.match}, ${show()}`;
  if (e.noMatch !== undefined && e.noMatch.test(res.body)) return `body must not match ${e.noMatch}, ${show()}`;
  for (const [k, v] of Object.entries(e.headers ?? {})) {
    const got = res.headers[k.toLowerCase()];
    const want = typeof v === 'function' ? v(ctx) : v;
    if (want === null ? got !== undefined : want instanceof RegExp ? !want.test(got ?? '') : got !== want) {
      return `header ${k}: want ${want}, got ${got}`;
    }
  }
  if (e.closed && !res.closed) return 'the server kept the connection open after answering';
  if (e.closed && res.extra && !c.pipelined) return `bytes after the answer: ${JSON.stringify(res.extra.slice(0, 200))}`;
  if (e.check) return e.check(res, ctx);
  return null;
}

async function health(port) {
  const r = await exchange(port, Buffer.from(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
  return r.status === 200 ? null : `then GET /health: ${r.status} ${r.body.slice(0, 200)}`;
}

// ------------------------------------------------------------------------------- main ----

const label = (process.env.MCPD_BIN ?? 'build/mcpd').split('/').slice(-2, -1)[0] || 'build';
const servers = [];
let exitCode = 0;
try {
  const all = await startOAuthServers({ name: 'hostile' });
  servers.push(['mcpd all', all]);
  const noauth = await startServer({ name: 'hostile-noauth', features: 'reference' });
  servers.push(['mcpd mcp --no-auth', noauth]);
  const { client, tokens } = await login(all.asOrigin);
  const ctx = {
    ports: { mcp: all.port, as: all.authPort, noauth: noauth.port },
    token: tokens.access_token,
    refresh: tokens.refresh_token,
    client,
    sid: await openSession(all.mcpUrl, tokens.access_token),
    nsid: await openSession(noauth.url),
  };
  // A session on 2025-03-26, the one revision with batches.
  const init0326 = await mcpPost(noauth.url, undefined, { ...INIT, params: { ...INIT.params, protocolVersion: '2025-03-26' } },
    { 'MCP-Protocol-Version': '2025-03-26' });
  if (init0326.status !== 200 || !init0326.sessionId) throw new Error(`initialize on 2025-03-26: ${init0326.status} ${init0326.text}`);
  ctx.nsid0326 = init0326.sessionId;
  const seen = new Set();
  for (const c of CASES) {
    if (seen.has(c.name)) throw new Error(`two cases named ${c.name}`);
    seen.add(c.name);
    if (ONLY && !ONLY.test(c.name)) continue;
    if (c.before) await c.before(ctx);
    const bytes = requestBytes(c, ctx);
    const port = ctx.ports[c.target];
    const res = await exchange(port, bytes, { wantClose: !!c.expect?.closed, stream: !!c.stream, chunks: c.chunks?.(bytes), delayMs: c.delayMs ?? 0 });
    if (RECORD) {
      const h = {};
      for (const k of ['content-type', 'location', 'allow', 'www-authenticate', 'set-cookie', 'access-control-allow-origin']) if (res.headers[k] !== undefined) h[k] = res.headers[k];
      console.log(JSON.stringify({ name: `${c.area}: ${c.name}`, status: res.status, closed: res.closed, extra: res.extra?.slice(0, 100), headers: h, body: res.body.slice(0, 400) }));
      continue;
    }
    const why = judge(c, res, ctx) ?? (await health(port));
    const name = `${label} ${c.area}: ${c.name}`;
    if (why) fail(`${name}: ${why}`);
    else ok(name);
  }
} catch (e) {
  fail(`${label}: the run: ${e.stack ?? e}`);
} finally {
  for (const [what, s] of servers.reverse()) {
    try {
      await s.stop();
      ok(`${label}: ${what} stopped cleanly`);
    } catch (e) {
      fail(`${label}: ${what} stopped cleanly: ${e.message}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed || exitCode ? 1 : 0;
