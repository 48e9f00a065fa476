// subscriptions/listen (2026-07-28) over raw HTTP (node's fetch): the acknowledgment first with
// the part of the filter the server honours, the subscription id on every message, only the
// requested notification types, concurrent streams, resource updates (a publishing tool and the
// reference pack's timers), task status notifications for the caller's own tasks, the bounds,
// a stream closed by its client freeing its place, and the graceful closure at SIGTERM. With
// REDIS_URL set, a list change and a task's status made on one instance reach a stream held by
// another (on the memory store two processes share nothing, so those tests are skipped there).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from './lib/server.mjs';
import { sseEvents } from './lib/sse.mjs';
import { login, startOAuthServers } from './lib/oauth.mjs';

const PV = '2026-07-28';
const SUB = 'io.modelcontextprotocol/subscriptionId';
const TASKS = 'io.modelcontextprotocol/tasks';
const CONF_INFO = { name: 'mcp-conformance-test-server', version: '1.0.0' };
const WATCHED = 'test://watched-resource';
const REDIS = Boolean(process.env.REDIS_URL);
const MAX_STREAMS = 3;

const meta = (caps = {}) => ({
  'io.modelcontextprotocol/protocolVersion': PV,
  'io.modelcontextprotocol/clientInfo': { name: 'listen-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': caps,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function headersFor(msg, token) {
  const h = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': PV,
    'Mcp-Method': msg.method };
  const name = msg.params?.name ?? msg.params?.uri ?? msg.params?.taskId;
  if (typeof name === 'string') h['Mcp-Name'] = name;
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

/** One ordinary 2026-07-28 request; resolves to { status, body }. */
async function call(url, id, method, params, { caps, token } = {}) {
  const msg = { jsonrpc: '2.0', id, method, params: { ...params, _meta: meta(caps) } };
  const res = await fetch(url, { method: 'POST', headers: headersFor(msg, token), body: JSON.stringify(msg) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) };
}

const health = async (url) => (await fetch(new URL('/health', url))).json();

const trigger = (url, name, args = {}) => call(url, `t-${name}-${Date.now()}`, 'tools/call', { name, arguments: args });

/**
 * POST subscriptions/listen and keep reading. Resolves once the answer's head is in to
 * { status, headers, body (a JSON answer), messages (every SSE message so far), waitFor(pred, ms,
 * what), ended (resolves when the stream ends), close() }.
 */
async function listen(url, id, notifications, { caps, token } = {}) {
  const msg = { jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { _meta: meta(caps), notifications } };
  const ac = new AbortController();
  const res = await fetch(url, { method: 'POST', headers: headersFor(msg, token), body: JSON.stringify(msg), signal: ac.signal });
  const out = { status: res.status, headers: res.headers, messages: [], close: () => ac.abort() };
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    out.body = await res.json();
    out.ended = Promise.resolve();
    return out;
  }
  const waiters = new Set();
  out.ended = (async () => {
    try {
      for await (const ev of sseEvents(res.body)) {
        out.messages.push(JSON.parse(ev.data));
        for (const w of waiters) w();
      }
    } catch (e) {
      if (e.name !== 'AbortError') throw e;
    } finally {
      out.done = true;
      for (const w of waiters) w();
    }
  })();
  out.waitFor = (pred, ms, what) => new Promise((resolve, reject) => {
    const check = () => {
      const m = out.messages.find(pred);
      if (m) { waiters.delete(check); clearTimeout(timer); resolve(m); } else if (out.done) {
        waiters.delete(check); clearTimeout(timer); reject(new Error(`stream ended before ${what}: ${JSON.stringify(out.messages)}`));
      }
    };
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${what} within ${ms} ms: ${JSON.stringify(out.messages)}`)); }, ms);
    waiters.add(check);
    check();
  });
  await out.waitFor(() => true, 5000, 'first message');
  return out;
}

const ackOf = (s) => s.messages[0];
const byMethod = (s, m) => s.messages.filter((x) => x.method === m);

function assertAck(s, id, notifications) {
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(s.headers.get('x-accel-buffering'), 'no');
  assert.deepEqual(ackOf(s), { jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged',
    params: { notifications, _meta: { [SUB]: id } } });
}

function assertTagged(s, id) {
  for (const m of s.messages) assert.deepEqual(m.params?._meta?.[SUB] ?? m.result?._meta?.[SUB], id, JSON.stringify(m));
}

let conf;
let lim; // --max-listen-streams 3
let ref;
let confB; // a second instance on the same Redis (REDIS_URL only)

before(async () => {
  [conf, lim, ref, confB] = await Promise.all([
    startServer({ name: 'listen' }),
    startServer({ name: 'listen-lim', extraArgs: ['--max-listen-streams', String(MAX_STREAMS)] }),
    startServer({ name: 'listen-ref', features: 'reference', extraArgs: ['--timer-scale-percent', '2'] }),
    REDIS ? startServer({ name: 'listen-b' }) : null,
  ]);
});

after(async () => {
  const r = await Promise.allSettled([conf?.stop(), lim?.stop(), ref?.stop(), confB?.stop()]);
  for (const x of r) if (x.status === 'rejected') throw x.reason;
});

describe('subscriptions/listen', () => {
  test('the acknowledgment comes first with the agreed subset; the reference pack agrees to resource subscriptions only', async () => {
    const s = await listen(conf.url, 'ack-1', { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: false,
      resourceSubscriptions: [WATCHED, WATCHED, 'test://static-text'], futureField: true });
    assertAck(s, 'ack-1', { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: [WATCHED, 'test://static-text'] });
    s.close();
    // The reference server has no listChanged capability: only its subscriptions are agreed.
    const r = await listen(ref.url, 7, { toolsListChanged: true, resourceSubscriptions: ['test://static/resource/1'] });
    assertAck(r, 7, { resourceSubscriptions: ['test://static/resource/1'] });
    r.close();
    // server/discover now advertises what listen delivers.
    const d = await call(conf.url, 'd', 'server/discover', {});
    assert.deepEqual(d.body.result.capabilities.tools, { listChanged: true });
    assert.deepEqual(d.body.result.capabilities.prompts, { listChanged: true });
    assert.deepEqual(d.body.result.capabilities.resources, { subscribe: true, listChanged: true });
  });

  test('two concurrent streams, each with its own filter and id; no tools change on a prompts-only stream', async () => {
    const a = await listen(conf.url, 'a', { promptsListChanged: true });
    const b = await listen(conf.url, 42, { toolsListChanged: true, resourcesListChanged: true });
    assertAck(a, 'a', { promptsListChanged: true });
    assertAck(b, 42, { toolsListChanged: true, resourcesListChanged: true });
    assert.equal((await trigger(conf.url, 'test_trigger_tool_change')).status, 200);
    assert.equal((await trigger(conf.url, 'test_trigger_resource_change')).status, 200);
    assert.equal((await trigger(conf.url, 'test_trigger_prompt_change')).status, 200);
    await a.waitFor((m) => m.method === 'notifications/prompts/list_changed', 5000, 'prompts change on a');
    await b.waitFor((m) => m.method === 'notifications/resources/list_changed', 5000, 'resources change on b');
    assert.ok(byMethod(b, 'notifications/tools/list_changed').length === 1);
    await sleep(200); // anything else for either stream would be here by now
    assert.deepEqual(a.messages.map((m) => m.method), ['notifications/subscriptions/acknowledged', 'notifications/prompts/list_changed']);
    assert.deepEqual(b.messages.map((m) => m.method), ['notifications/subscriptions/acknowledged',
      'notifications/tools/list_changed', 'notifications/resources/list_changed']);
    assertTagged(a, 'a');
    assertTagged(b, 42);
    assert.deepEqual(byMethod(a, 'notifications/prompts/list_changed')[0], { jsonrpc: '2.0', method: 'notifications/prompts/list_changed', params: { _meta: { [SUB]: 'a' } } });
    a.close();
    b.close();
  });

  test('a resource update reaches the streams subscribed to that URI only', async () => {
    const s = await listen(conf.url, 'r', { resourceSubscriptions: [WATCHED] });
    await trigger(conf.url, 'test_trigger_resource_update', { uri: 'test://not-watched' });
    await trigger(conf.url, 'test_trigger_resource_update', { uri: WATCHED });
    const u = await s.waitFor((m) => m.method === 'notifications/resources/updated', 5000, 'the update');
    assert.deepEqual(u, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: WATCHED, _meta: { [SUB]: 'r' } } });
    await sleep(200);
    assert.equal(byMethod(s, 'notifications/resources/updated').length, 1);
    s.close();
  });

  test("the reference pack's update timer writes to a stream's URIs; its log and stderr timers do not", async () => {
    const uri = 'test://static/resource/3';
    const s = await listen(ref.url, 'timer', { resourceSubscriptions: [uri] });
    // Updates every 200 ms; the log timer (400 ms) and stderr timer (600 ms) run too.
    await s.waitFor(() => byMethod(s, 'notifications/resources/updated').length >= 3, 5000, 'three timer updates');
    assert.deepEqual(new Set(s.messages.slice(1).map((m) => `${m.method} ${m.params.uri}`)), new Set([`notifications/resources/updated ${uri}`]));
    assertTagged(s, 'timer');
    s.close();
  });

  test('bad filters are -32602; task ids without the tasks extension are 400 -32021', async () => {
    const bad = async (notifications, message) => {
      const r = await listen(conf.url, 'bad', notifications);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { jsonrpc: '2.0', id: 'bad', error: { code: -32602, message } });
    };
    await bad(undefined, 'Invalid params: notifications must be an object');
    await bad({ toolsListChanged: 'yes' }, 'Invalid params: notifications.toolsListChanged must be a boolean');
    await bad({ resourceSubscriptions: WATCHED }, 'Invalid params: notifications.resourceSubscriptions must be an array of strings');
    await bad({ resourceSubscriptions: Array.from({ length: 101 }, (_, i) => `test://r/${i}`) },
      'Invalid params: notifications.resourceSubscriptions has more than 100 entries (MAX_SUBSCRIPTIONS)');
    await bad({ resourceSubscriptions: ['test://' + 'x'.repeat(2048)] },
      'Invalid params: notifications.resourceSubscriptions entries must be non-empty strings of at most 2048 bytes');
    await bad({ taskIds: [1] }, 'Invalid params: notifications.taskIds entries must be non-empty strings of at most 128 bytes');
    const r = await listen(conf.url, 'noext', { taskIds: ['0'.repeat(32)] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { jsonrpc: '2.0', id: 'noext', error: { code: -32021, message: 'Missing required client capability',
      data: { requiredCapabilities: { extensions: { [TASKS]: {} } } } } });
  });

  test('MAX_LISTEN_STREAMS per user: one more is 429 -32000; a stream its client closed frees its place', async () => {
    const open = [];
    for (let i = 0; i < MAX_STREAMS; i++) open.push(await listen(lim.url, `m${i}`, { toolsListChanged: true }));
    // /health and /metrics count them.
    assert.equal((await health(lim.url)).listenStreams, MAX_STREAMS);
    assert.match(await (await fetch(new URL('/metrics', lim.url))).text(), new RegExp(`^mcpd_sse_streams_open(\\{[^}]*\\})? ${MAX_STREAMS}$`, 'm'));
    const over = await listen(lim.url, 'over', { toolsListChanged: true });
    assert.equal(over.status, 429);
    assert.deepEqual(over.body, { jsonrpc: '2.0', id: 'over', error: { code: -32000, message: 'Too many listen streams for this user (MAX_LISTEN_STREAMS)' } });
    open.pop().close();
    // The server notices the closed connection on its next read: poll until the place is free.
    let again;
    for (let i = 0; i < 50; i++) {
      again = await listen(lim.url, 'again', { toolsListChanged: true });
      if (again.status === 200) break;
      await sleep(50);
    }
    assertAck(again, 'again', { toolsListChanged: true });
    // The closed stream's subscription is gone too: a change reaches only the open ones.
    await trigger(lim.url, 'test_trigger_tool_change');
    for (const s of [...open, again]) await s.waitFor((m) => m.method === 'notifications/tools/list_changed', 5000, 'tools change');
    for (const s of [...open, again]) s.close();
    let left;
    for (let i = 0; i < 50 && (left = (await health(lim.url)).listenStreams) !== 0; i++) await sleep(50);
    assert.equal(left, 0, 'every closed stream left /health');
  });

  test('SIGTERM: every open stream gets the complete result with its subscription id before it ends', async () => {
    const own = await startServer({ name: 'listen-term' });
    try {
      const s = await listen(own.url, 'bye', { toolsListChanged: true });
      const t = await listen(own.url, 9, { promptsListChanged: true });
      const exited = new Promise((r) => own.proc.once('exit', r));
      own.proc.kill('SIGTERM');
      await Promise.all([s.ended, t.ended]);
      await exited; // then stop() only checks the exit status and the log
      await sleep(10);
      for (const [x, id] of [[s, 'bye'], [t, 9]]) {
        assert.equal(x.messages.length, 2, JSON.stringify(x.messages));
        assert.deepEqual(x.messages[1], { jsonrpc: '2.0', id, result: { resultType: 'complete',
          _meta: { [SUB]: id, 'io.modelcontextprotocol/serverInfo': CONF_INFO } } });
      }
    } finally {
      await own.stop();
    }
  });

  test('across instances (Redis): a list change and a resource update made on A reach a stream held by B', { skip: !REDIS && 'needs REDIS_URL' }, async () => {
    const s = await listen(confB.url, 'x', { toolsListChanged: true, resourceSubscriptions: [WATCHED] });
    await trigger(conf.url, 'test_trigger_tool_change');
    await trigger(conf.url, 'test_trigger_resource_update', { uri: WATCHED });
    await s.waitFor((m) => m.method === 'notifications/tools/list_changed', 5000, 'the tools change from A');
    await s.waitFor((m) => m.method === 'notifications/resources/updated', 5000, 'the update from A');
    assertTagged(s, 'x');
    s.close();
  });
});

describe('task status notifications (tasks extension)', () => {
  let auth;
  let alice;
  let bob;
  const caps = { extensions: { [TASKS]: {} } };

  before(async () => {
    auth = await startOAuthServers({ name: 'listen-tasks', args: ['--features', 'conformance'] });
    alice = (await login(auth.asOrigin)).tokens.access_token;
    bob = (await login(auth.asOrigin)).tokens.access_token;
  });
  after(async () => auth?.stop());

  const startTask = async (url, token, seconds) => {
    const r = await call(url, 'c', 'tools/call', { name: 'slow_compute', arguments: { seconds, label: 'listen' } }, { caps, token });
    assert.equal(r.body.result?.resultType, 'task', JSON.stringify(r.body));
    return r.body.result.taskId;
  };

  test("the caller's task: working now, then completed with its result; unknown and foreign ids are not acknowledged", async () => {
    const id = await startTask(auth.mcpUrl, alice, 1);
    const unknown = 'f'.repeat(32);
    const s = await listen(auth.mcpUrl, 'tasks', { taskIds: [id, unknown, 'not-a-task-id'] }, { caps, token: alice });
    const other = await listen(auth.mcpUrl, 'peek', { taskIds: [id] }, { caps, token: bob });
    assertAck(s, 'tasks', { taskIds: [id] });
    assertAck(other, 'peek', { taskIds: [] });
    const done = await s.waitFor((m) => m.method === 'notifications/tasks' && m.params.status === 'completed', 8000, 'completed');
    const statuses = byMethod(s, 'notifications/tasks').map((m) => m.params.status);
    assert.deepEqual(statuses, ['working', 'completed']);
    assert.equal(done.params.taskId, id);
    assert.deepEqual(done.params.result.content, [{ type: 'text', text: 'Computed listen' }]);
    // Exactly what tasks/get answers, but for the resultType and _meta of a result.
    const got = await call(auth.mcpUrl, 'g', 'tasks/get', { taskId: id }, { caps, token: alice });
    const { resultType, _meta, ...task } = got.body.result;
    assert.equal(resultType, 'complete');
    assert.deepEqual({ ...done.params, _meta: undefined }, { ...task, _meta: undefined });
    assertTagged(s, 'tasks');
    await sleep(200);
    assert.deepEqual(other.messages.length, 1, "bob's stream saw nothing of alice's task");
    s.close();
    other.close();
  });

  test('a cancelled task is announced as cancelled', async () => {
    const id = await startTask(auth.mcpUrl, alice, 30);
    const s = await listen(auth.mcpUrl, 'c1', { taskIds: [id] }, { caps, token: alice });
    await s.waitFor((m) => m.params?.status === 'working', 5000, 'working');
    await call(auth.mcpUrl, 'x', 'tasks/cancel', { taskId: id }, { caps, token: alice });
    await s.waitFor((m) => m.params?.status === 'cancelled', 5000, 'cancelled');
    s.close();
  });
});

describe('task status across instances (Redis)', { skip: !REDIS && 'needs REDIS_URL' }, () => {
  test('a task run by A is followed from B', async () => {
    const caps = { extensions: { [TASKS]: {} } };
    const r = await call(conf.url, 'c', 'tools/call', { name: 'slow_compute', arguments: { seconds: 1, label: 'ab' } }, { caps });
    const id = r.body.result.taskId;
    const s = await listen(confB.url, 'ab', { taskIds: [id] }, { caps });
    assertAck(s, 'ab', { taskIds: [id] });
    const done = await s.waitFor((m) => m.params?.status === 'completed', 8000, 'completed from A');
    assert.deepEqual(done.params.result.content, [{ type: 'text', text: 'Computed ab' }]);
    s.close();
  });
});
