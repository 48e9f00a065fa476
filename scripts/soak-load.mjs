// The soak's load driver (run by scripts/soak.sh): starts `mcpd all --features reference` from
// MCPD_BIN, drives it with bounded mixed load for SOAK_MINUTES, and every SOAK_SAMPLE_S seconds
// pauses the load, waits until the server is idle (`/health`: no call in flight, no live
// session), then samples its RSS (/proc/<pid>/status VmRSS) and open descriptors
// (/proc/<pid>/fd) into SOAK_CSV. At the end it compares every sample after the warm-up with the
// first one after it and prints the verdict: flat (within SOAK_TOLERANCE_PCT) or growing.
// Exit status: 0 flat, 1 growing or the server stopped uncleanly, 2 the load itself failed.
import { readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Exchange, longCall } from '../tests/integration/lib/exchange.mjs';
import { startOAuthServers, login, sleep } from '../tests/integration/lib/oauth.mjs';
import { openLegacySse } from '../tests/integration/lib/sse.mjs';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 60);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 6);
const PAUSE_MS = Number(process.env.SOAK_PAUSE_MS ?? 20); // between one worker's scenarios
const TOLERANCE = Number(process.env.SOAK_TOLERANCE_PCT ?? 5);
const WARMUP_MIN = Number(process.env.SOAK_WARMUP_MINUTES ?? Math.min(8, Math.max(1, Math.floor(MINUTES / 3))));
const CSV = process.env.SOAK_CSV ?? 'build/soak.csv';
const LOGIN_S = Number(process.env.SOAK_LOGIN_S ?? 10);
const SESSION_TTL_MS = 60000; // abandoned sessions expire within the run
const CALL_CEILING_MS = 20000;

const counts = { scenarios: 0, requests: 0, errors: 0 };
const errorKinds = new Map();
let paused = false;
let stopping = false;
let inFlight = 0;

function fail(kind, detail) {
  counts.errors++;
  const seen = errorKinds.get(kind) ?? 0;
  errorKinds.set(kind, seen + 1);
  if (seen < 3) console.error(`soak: unexpected: ${kind}: ${detail}`);
}

// ------------------------------------------------------------------------- HTTP helpers ----

let srv; // { mcpUrl, mcpOrigin, asOrigin, procs }
const tokens = []; // a few users' access tokens, replaced as the run goes

function headers(token, sid, extra = {}) {
  const h = { Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json',
    'MCP-Protocol-Version': '2025-11-25', Authorization: `Bearer ${token}`, ...extra };
  if (sid) h['Mcp-Session-Id'] = sid;
  return h;
}

function post(token, sid, msg, extra) {
  counts.requests++;
  return new Exchange(srv.mcpUrl, { method: 'POST', headers: headers(token, sid, extra), body: JSON.stringify(msg) });
}

/** POST and wait for the whole answer; resolves to the messages it carried (JSON or SSE). */
async function call(token, sid, msg, extra) {
  const x = post(token, sid, msg, extra);
  await withCeiling(x.done, `${msg.method ?? 'answer'}`);
  return { x, msgs: bodyMessages(x) };
}

function bodyMessages(x) {
  if (/event-stream/.test(x.headers?.['content-type'] ?? '')) return x.messages();
  try {
    const j = JSON.parse(x.text);
    return Array.isArray(j) ? j : [j];
  } catch {
    return [];
  }
}

function withCeiling(p, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`no ${what} within ${CALL_CEILING_MS} ms`)), CALL_CEILING_MS); })])
    .finally(() => clearTimeout(t));
}

function expect(cond, kind, detail) {
  if (!cond) fail(kind, detail);
  return cond;
}

async function openSession(token, capabilities = {}) {
  const { x, msgs } = await call(token, null, { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'soak', version: '1' } } });
  const sid = x.headers?.['mcp-session-id'];
  if (!expect(x.status === 200 && sid && msgs[0]?.result, 'initialize', `${x.status} ${x.text.slice(0, 200)}`)) return null;
  const n = await call(token, sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
  expect(n.x.status === 202, 'initialized', n.x.status);
  return sid;
}

async function del(token, sid) {
  counts.requests++;
  const x = new Exchange(srv.mcpUrl, { method: 'DELETE', headers: headers(token, sid) });
  await withCeiling(x.done, 'DELETE');
  expect(x.status === 200, 'delete', `${x.status} ${x.text}`);
}

async function rpcOk(token, sid, id, method, params) {
  const { x, msgs } = await call(token, sid, { jsonrpc: '2.0', id, method, params });
  const last = msgs.at(-1);
  expect(x.status === 200 && last?.id === id && last.result, method, `${x.status} ${x.text.slice(0, 200)}`);
  return last?.result;
}

// --------------------------------------------------------------------------- scenarios ----

async function basics(token) {
  const sid = await openSession(token);
  if (!sid) return;
  await rpcOk(token, sid, 2, 'tools/list', {});
  const echo = await rpcOk(token, sid, 3, 'tools/call', { name: 'echo', arguments: { message: 'soak' } });
  expect(echo?.content?.[0]?.text === 'Echo: soak', 'echo', JSON.stringify(echo));
  await rpcOk(token, sid, 4, 'tools/call', { name: 'add', arguments: { a: 2, b: 3 } });
  await rpcOk(token, sid, 5, 'resources/list', {});
  await rpcOk(token, sid, 6, 'resources/read', { uri: 'test://static/resource/1' });
  await rpcOk(token, sid, 7, 'prompts/list', {});
  await rpcOk(token, sid, 8, 'ping', {});
  await del(token, sid);
}

async function progress(token) {
  const sid = await openSession(token);
  if (!sid) return;
  const { msgs } = await call(token, sid, longCall(2, { duration: 0.5, steps: 5 }, 'p-' + randomUUID()));
  const notes = msgs.filter((m) => m.method === 'notifications/progress').length;
  expect(notes === 5 && msgs.at(-1)?.result, 'progress', `${notes} progress notifications, last ${JSON.stringify(msgs.at(-1))}`);
  await del(token, sid);
}

/** sampleLLM or elicitInputs: the server's request on the POST stream, answered by another POST. */
async function serverRequest(token, tool, capabilities, answer) {
  const sid = await openSession(token, capabilities);
  if (!sid) return;
  const x = post(token, sid, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: tool, arguments: tool === 'sampleLLM' ? { prompt: 'hi' } : {} } });
  try {
    await x.waitFor((e) => e.messages().some((m) => m.method && m.id !== undefined), `${tool}'s request`);
    const req = x.messages().find((m) => m.method && m.id !== undefined);
    const r = await call(token, sid, { jsonrpc: '2.0', id: req.id, result: answer });
    expect(r.x.status === 202, `${tool} answer`, r.x.status);
    await withCeiling(x.done, `${tool}'s result`);
    expect(x.messages().at(-1)?.result, tool, x.text.slice(-200));
  } catch (e) {
    fail(tool, e.message);
    x.close();
  }
  await del(token, sid);
}

async function subscriptions(token) {
  const sid = await openSession(token, {});
  if (!sid) return;
  for (let i = 1; i <= 5; i++) await rpcOk(token, sid, 10 + i, 'resources/subscribe', { uri: `test://static/resource/${i}` });
  for (let i = 1; i <= 5; i++) await rpcOk(token, sid, 20 + i, 'resources/unsubscribe', { uri: `test://static/resource/${i}` });
  await del(token, sid);
}

async function getStream(token) {
  const sid = await openSession(token);
  if (!sid) return;
  counts.requests++;
  const g = new Exchange(srv.mcpUrl, { headers: { ...headers(token, sid), Accept: 'text/event-stream' } });
  await sleep(200 + Math.random() * 800);
  expect(g.status === 200, 'GET stream', `${g.status} ${g.text.slice(0, 200)}`);
  if (Math.random() < 0.5) g.close(); // else DELETE ends it
  await del(token, sid);
  await withCeiling(g.done, 'GET stream end').catch((e) => fail('GET stream end', e.message));
}

async function legacy(token) {
  counts.requests += 4;
  const s = await openLegacySse(srv.mcpOrigin, { headers: { Authorization: `Bearer ${token}` } });
  try {
    await s.post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'soak', version: '1' } } });
    await s.reply(1, CALL_CEILING_MS);
    await s.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await s.post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'sse' } } });
    const r = await s.reply(2, CALL_CEILING_MS);
    expect(r.result?.content?.[0]?.text === 'Echo: sse', 'legacy echo', JSON.stringify(r));
  } finally {
    s.close();
  }
}

/** A progress call whose client goes away: connection cut, sometimes the session never deleted. */
async function abandoned(token) {
  const sid = await openSession(token);
  if (!sid) return;
  const x = post(token, sid, longCall(2, { duration: 3, steps: 30 }, 'a-' + randomUUID()));
  await x.waitFor((e) => e.messages().some((m) => m.method === 'notifications/progress'), 'a progress notification')
    .catch((e) => fail('abandoned', e.message));
  x.close();
  if (Math.random() < 0.5) await del(token, sid);
}

/** Requests the server must refuse, each with its status. */
async function bad(token) {
  const cases = [
    [{ body: '{"jsonrpc":', headers: headers(token) }, 400],
    [{ body: '{}', headers: headers(token, randomUUID()) }, 404],
    [{ body: '{}', headers: { ...headers(token), 'Content-Type': 'text/plain' } }, 415],
    [{ body: '{}', headers: { ...headers(token), Authorization: 'Bearer nope' } }, 401],
  ];
  for (const [opts, status] of cases) {
    counts.requests++;
    const x = new Exchange(srv.mcpUrl, { method: 'POST', ...opts });
    await withCeiling(x.done, 'refusal');
    expect(x.status === status, `bad request ${status}`, `${x.status} ${x.text.slice(0, 200)}`);
  }
  // A request cut half-way through its head.
  await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.end('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le'));
    s.on('error', resolve);
    s.on('close', resolve);
    s.resume();
  });
}

const SCENARIOS = [
  [basics, 4], [progress, 2], [subscriptions, 1], [getStream, 2], [legacy, 1], [abandoned, 1], [bad, 1],
  [(t) => serverRequest(t, 'sampleLLM', { sampling: {} }, { model: 'm', role: 'assistant', content: { type: 'text', text: 'x' } }), 1],
  [(t) => serverRequest(t, 'elicitInputs', { elicitation: {} }, { action: 'accept', content: { name: 'Ada' } }), 1],
];
const WEIGHTS = SCENARIOS.reduce((n, [, w]) => n + w, 0);

function pick() {
  let r = Math.random() * WEIGHTS;
  for (const [f, w] of SCENARIOS) if ((r -= w) < 0) return f;
  return SCENARIOS[0][0];
}

async function worker() {
  while (!stopping) {
    if (paused) {
      await sleep(100);
      continue;
    }
    inFlight++;
    try {
      await pick()(tokens[Math.floor(Math.random() * tokens.length)]);
      counts.scenarios++;
    } catch (e) {
      fail('scenario', e.stack ?? e.message);
    } finally {
      inFlight--;
    }
    await sleep(PAUSE_MS);
  }
}

/** A fresh login every SOAK_LOGIN_S seconds (0: none): the authorization server is under load
 * too. Counted in flight like a scenario, so a sample never catches one half done. */
async function relogin() {
  while (!stopping && LOGIN_S > 0) {
    await sleep(LOGIN_S * 1000);
    if (paused || stopping) continue;
    inFlight++;
    try {
      const { tokens: t } = await login(srv.asOrigin, { resource: srv.mcpUrl });
      tokens[Math.floor(Math.random() * tokens.length)] = t.access_token;
      counts.requests += 5;
    } catch (e) {
      fail('login', e.message);
    } finally {
      inFlight--;
    }
  }
}

// ---------------------------------------------------------------------------- sampling ----

function procSample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpuTicks = Number(stat[11]) + Number(stat[12]); // utime + stime
  return { rss, fds, cpuTicks };
}

async function health() {
  const r = await fetch(`${srv.mcpOrigin}/health`);
  return r.json();
}

/** Pause the load, wait until nothing is in flight on either side, sample, resume. */
async function quiesceAndSample(pid, minute, t0) {
  paused = true;
  const deadline = Date.now() + 30000;
  let h = {};
  while (Date.now() < deadline) {
    h = await health();
    if (inFlight === 0 && h.callsInFlight === 0 && h.liveSessions === 0) break;
    await sleep(200);
  }
  await sleep(5000); // keep-alive connections of fetch() close
  h = await health();
  const s = procSample(pid);
  paused = false;
  const row = { minute, elapsed_s: Math.round((Date.now() - t0) / 1000), rss_kb: s.rss, fds: s.fds, cpu_ticks: s.cpuTicks,
    calls_in_flight: h.callsInFlight, live_sessions: h.liveSessions, scenarios: counts.scenarios, requests: counts.requests, errors: counts.errors };
  appendFileSync(CSV, `${Object.values(row).join(',')}\n`);
  console.log(`soak: minute ${minute}: rss ${s.rss} kB, fds ${s.fds}, ${counts.scenarios} scenarios, ${counts.requests} requests, ${counts.errors} unexpected`);
  return row;
}

function verdict(rows) {
  const after = rows.filter((r) => r.minute >= WARMUP_MIN);
  if (after.length < 2) return { flat: false, text: `too few samples after the ${WARMUP_MIN}-minute warm-up` };
  const base = after[0];
  const maxRss = Math.max(...after.map((r) => r.rss_kb));
  const maxFds = Math.max(...after.map((r) => r.fds));
  const rssPct = ((maxRss - base.rss_kb) / base.rss_kb) * 100;
  // Descriptors: 5% of ~20 is one, and mcpd all may hold one idle keep-alive connection to
  // itself (the MCP role's introspection client and the AS side: 2 descriptors) at a sample.
  const fdsSlack = Math.max(2, Math.floor((base.fds * TOLERANCE) / 100));
  const flat = rssPct <= TOLERANCE && maxFds - base.fds <= fdsSlack;
  return { flat, text: `after the ${WARMUP_MIN}-minute warm-up: RSS ${base.rss_kb} kB at minute ${base.minute}, at most ${maxRss} kB (+${rssPct.toFixed(1)}%, tolerance ${TOLERANCE}%); descriptors ${base.fds}, at most ${maxFds} (+${maxFds - base.fds}, tolerance +${fdsSlack}): ${flat ? 'FLAT' : 'GROWING'}` };
}

async function main() {
  srv = await startOAuthServers({ name: 'soak', args: ['--session-ttl-ms', String(SESSION_TTL_MS)] });
  const pid = srv.procs[0].proc.pid;
  for (let i = 0; i < 4; i++) tokens.push((await login(srv.asOrigin, { resource: srv.mcpUrl })).tokens.access_token);
  writeFileSync(CSV, 'minute,elapsed_s,rss_kb,fds,cpu_ticks,calls_in_flight,live_sessions,scenarios,requests,errors\n');
  const t0 = Date.now();
  const rows = [await quiesceAndSample(pid, 0, t0)];
  const workers = Array.from({ length: WORKERS }, worker);
  const re = relogin();
  for (let m = 1; m <= MINUTES; m++) {
    const at = t0 + m * SAMPLE_S * 1000;
    while (Date.now() < at) await sleep(Math.min(1000, at - Date.now()));
    rows.push(await quiesceAndSample(pid, m, t0));
  }
  stopping = true;
  await Promise.all([...workers, re]);
  let code = 0;
  const v = verdict(rows);
  console.log(`soak: ${counts.scenarios} scenarios, ${counts.requests} requests in ${MINUTES} min, ${counts.errors} unexpected answers`);
  for (const [k, n] of errorKinds) console.log(`soak:   unexpected ${k}: ${n}`);
  console.log(`soak: ${v.text}`);
  if (!v.flat) code = 1;
  try {
    await srv.stop();
    console.log('soak: mcpd stopped cleanly');
  } catch (e) {
    console.log(`soak: ${e.message}`);
    code = 1;
  }
  if (counts.errors > 0 && code === 0) code = 2;
  process.exit(code);
}

/** `node scripts/soak-load.mjs --verdict <csv>`: the verdict of a finished run's samples. */
function verdictOf(file) {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const keys = head.split(',');
  const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], Number(v)])));
  const v = verdict(rows);
  console.log(`soak: ${v.text}`);
  process.exit(v.flat ? 0 : 1);
}

if (process.argv[2] === '--verdict') verdictOf(process.argv[3]);
else main().catch(async (e) => {
  console.error(`soak: ${e.stack ?? e.message}`);
  stopping = true;
  await srv?.stop().catch(() => {});
  process.exit(2);
});
