// mcpd's reference feature pack (shared/spec/reference-spec.md §8, §14.2; DESIGN.md §6) against the
// official TypeScript SDK client, over Streamable HTTP (/mcp) and over the legacy HTTP+SSE transport
// (GET /sse + POST /message): every tool with its exact output, the 100 paginated resources,
// templates, every prompt and completion case, subscriptions with resource updates, the periodic
// random log filtered by logging/setLevel and the non-standard notifications/stderr. The server runs
// with --timer-scale-percent 2, so its periodic timers fire every 200 ms (resource updates), 400 ms
// (random log) and 600 ms (stderr) instead of 10, 20 and 30 s.
//
// Results are requested with the SDK's loose ResultSchema and server messages are recorded as they
// came off the transport, so the assertions see the exact JSON (the typed SDK helpers would strip
// unknown keys such as a resource's `name`, or a `text` that must not be in list entries).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import vm from 'node:vm';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  McpError,
  ResultSchema,
} from '@modelcontextprotocol/sdk/types.js';

import { startServer } from './lib/server.mjs';

const TIMER_SCALE_PERCENT = 2;
// Ceiling for waiting on an event: only a hang reaches it, however slow the asan build is.
const CEILING_MS = 15000;
const TINY_IMAGE_SHA256 = '4466be3b7a0e51778f8634f5e984197ec35c748caf4c3b32763f89c577d29614';
const DRAFT07 = 'http://json-schema.org/draft-07/schema#';

const REFERENCE_TOOLS = [
  {
    name: 'echo', description: 'Echoes back the input',
    inputSchema: { type: 'object', properties: { message: { type: 'string', description: 'Message to echo' } }, required: ['message'], additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'add', description: 'Adds two numbers',
    inputSchema: { type: 'object', properties: { a: { type: 'number', description: 'First number' }, b: { type: 'number', description: 'Second number' } }, required: ['a', 'b'], additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'longRunningOperation', description: 'Demonstrates a long running operation with progress updates',
    inputSchema: { type: 'object', properties: { duration: { type: 'number', default: 10, description: 'Duration of the operation in seconds' }, steps: { type: 'number', default: 5, description: 'Number of steps in the operation' } }, additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'sampleLLM', description: "Samples from an LLM using MCP's sampling feature",
    inputSchema: { type: 'object', properties: { prompt: { type: 'string', description: 'The prompt to send to the LLM' }, maxTokens: { type: 'number', default: 100, description: 'Maximum number of tokens to generate' } }, required: ['prompt'], additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'getTinyImage', description: 'Returns the MCP_TINY_IMAGE',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'annotatedMessage', description: 'Demonstrates how annotations can be used to provide metadata about content',
    inputSchema: { type: 'object', properties: { messageType: { type: 'string', enum: ['error', 'success', 'debug'], description: 'Type of message to demonstrate different annotation patterns' }, includeImage: { type: 'boolean', default: false, description: 'Whether to include an example image' } }, required: ['messageType'], additionalProperties: false, $schema: DRAFT07 },
  },
  {
    name: 'getResourceReference', description: 'Returns a resource reference that can be used by MCP clients',
    inputSchema: { type: 'object', properties: { resourceId: { type: 'number', minimum: 1, maximum: 100, description: 'ID of the resource to reference (1-100)' } }, required: ['resourceId'], additionalProperties: false, $schema: DRAFT07 },
  },
];
const ELICIT_TOOL = {
  name: 'elicitInputs',
  description: 'Elicitation test tool that demonstrates how to request user input with various field types',
  inputSchema: { type: 'object', properties: {} },
};
// MCP Apps: offered only to hosts that declare the extension with the HTML profile.
const APPS_CAPABILITIES = { extensions: { 'io.modelcontextprotocol/ui': { mimeTypes: ['text/html;profile=mcp-app'] } } };
const APP_URI = 'ui://hello-world/app.html';
const APP_META = { ui: { resourceUri: APP_URI }, 'ui/resourceUri': APP_URI };
const APPS_TOOL = {
  name: 'mcp_apps_hello_world',
  description: 'Demonstrates MCP Apps - returns an interactive UI that runs in the client',
  inputSchema: { type: 'object', properties: {} },
  _meta: APP_META,
};
const ELICIT_SCHEMA = {
  type: 'object',
  properties: {
    name: { title: 'Full Name', type: 'string', description: 'Your full, legal name' },
    check: { title: 'Agree to terms', type: 'boolean', description: 'A boolean check' },
    color: { title: 'Favorite Color', type: 'string', description: 'Favorite color (open text)', default: 'blue' },
    email: { title: 'Email Address', type: 'string', format: 'email', description: 'Your email address (will be verified, and never shared with anyone else)' },
    homepage: { type: 'string', format: 'uri', description: 'Homepage / personal site' },
    birthdate: { title: 'Birthdate', type: 'string', format: 'date', description: 'Your date of birth (will never be shared with anyone else)' },
    integer: { title: 'Favorite Integer', type: 'integer', description: 'Your favorite integer (do not give us your phone number, pin, or other sensitive info)', minimum: 1, maximum: 100, default: 42 },
    number: { title: 'Favorite Number', type: 'number', description: 'Favorite number (there are no wrong answers)', minimum: 0, maximum: 1000, default: 3.14 },
    petType: { title: 'Pet type', type: 'string', enum: ['cats', 'dogs', 'birds', 'fish', 'reptiles'], enumNames: ['Cats', 'Dogs', 'Birds', 'Fish', 'Reptiles'], default: 'dogs', description: 'Your favorite pet type' },
  },
  required: ['name'],
};
// The elicitation handler's answer; the tool result is "Elicitation result: " + JSON.stringify(answer, null, 2).
const ELICIT_ANSWER = {
  action: 'accept',
  content: {
    name: 'Ada Lovelace', check: true, color: 'green', email: 'ada@example.com', homepage: 'https://example.com/ada',
    birthdate: '1815-12-10', integer: 7, number: 3.14, petType: 'cats',
  },
};

const RANDOM_LOG = {
  debug: 'Debug-level message', info: 'Info-level message', notice: 'Notice-level message',
  warning: 'Warning-level message', error: 'Error-level message', critical: 'Critical-level message',
  alert: 'Alert level-message', emergency: 'Emergency-level message',
};
const RANDOM_LOG_TEXTS = new Set(Object.values(RANDOM_LOG));

/** Resource n of the 100 static resources, as resources/read returns it (§8.4). */
function resource(n) {
  const uri = `test://static/resource/${n}`;
  return n % 2 === 1
    ? { uri, name: `Resource ${n}`, mimeType: 'text/plain', text: `Resource ${n}: This is a plaintext resource` }
    : { uri, name: `Resource ${n}`, mimeType: 'application/octet-stream', blob: Buffer.from(`Resource ${n}: This is a base64 blob`).toString('base64') };
}
/** The resources/list entry of resource n: mcpd lists no contents (DESIGN.md §6). */
function listEntry(n) {
  const { text, blob, ...entry } = resource(n); // eslint-disable-line no-unused-vars
  return entry;
}
function samplingParams(text, maxTokens = 100) {
  return {
    messages: [{ role: 'user', content: { type: 'text', text } }],
    systemPrompt: 'You are a helpful test server.', maxTokens, temperature: 0.7, includeContext: 'thisServer',
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
function assertTinyImage(b64) {
  assert.equal(typeof b64, 'string');
  assert.equal(b64.length, 5380);
  assert.equal(sha256(Buffer.from(b64, 'base64')), TINY_IMAGE_SHA256);
}
/** A zod-style validation failure: the message is the JSON issue list; one issue must match. */
async function rejectsWithIssue(promise, code, issue) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
    assert.equal(err.code, code);
    const issues = JSON.parse(err.message.slice(`MCP error ${code}: `.length));
    assert.ok(issues.some((i) => i.message === issue.message && JSON.stringify(i.path) === JSON.stringify(issue.path)),
      `no issue ${JSON.stringify(issue)} in ${err.message}`);
    return true;
  });
}
/** A JSON-RPC error with exactly this code and message (and data, when given). */
async function rejectsWith(promise, code, message, data) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof McpError, `expected McpError, got ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.message, `MCP error ${code}: ${message}`);
    assert.deepEqual(err.data, data);
    return true;
  });
}

let server;

before(async () => {
  server = await startServer({ name: 'reference', features: 'reference', extraArgs: ['--timer-scale-percent', String(TIMER_SCALE_PERCENT)] });
});

// Also when a test before the stop test failed: an unclean stop must fail the run, not vanish.
after(async () => {
  await server?.stop();
});

/**
 * A connected SDK client. capabilities: what it declares (sampling and elicitation get handlers).
 * Every message the server sends (requests, notifications) is recorded in `inbox` exactly as the
 * transport parsed it.
 */
async function connect(kind, capabilities) {
  const client = new Client({ name: 'mcpd-reference-test', version: '1.0.0' }, { capabilities });
  const samplingAnswers = []; // the sampling handler's replies, in order
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const answer = { model: 'stub-model', role: 'assistant', content: { type: 'text', text: `sampled: ${req.params.messages[0].content.text}` } };
      samplingAnswers.push(answer);
      return answer;
    });
  }
  if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, async () => ELICIT_ANSWER);
  client.fallbackNotificationHandler = async () => {}; // notifications/stderr is not in the SDK's schema
  const errors = []; // what the SDK reports to onerror (e.g. progress for a request already answered)
  client.onerror = (e) => errors.push(e);
  const transport = kind === 'sse'
    ? new SSEClientTransport(new URL(`${server.origin}/sse`))
    : new StreamableHTTPClientTransport(new URL(server.url));
  await client.connect(transport);
  const inbox = [];
  const deliver = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    if (msg.method) inbox.push(msg);
    deliver?.call(transport, msg, extra);
  };
  /** The raw result of any request. */
  const raw = (method, params, options) => client.request(params === undefined ? { method } : { method, params }, ResultSchema, { timeout: 15000, ...options });
  const notes = (method) => inbox.filter((m) => m.method === method && m.id === undefined);
  const requests = (method) => inbox.filter((m) => m.method === method && m.id !== undefined);
  return { client, transport, inbox, raw, notes, requests, samplingAnswers, errors };
}

/**
 * Runs the view's script (the HTML's one inline <script>) in a bare context standing in for the
 * sandboxed iframe: a few DOM elements and a window whose parent is the host. Returns the
 * elements, what the view posted to the host, and deliver(msg, source) for the host's messages.
 */
function runView(html) {
  const script = html.match(/<script>([\s\S]*)<\/script>/)[1];
  const posted = [];
  const host = { postMessage: (msg, origin) => posted.push({ msg: structuredClone(msg), origin }) };
  const listeners = [];
  const elements = new Map();
  const element = (id) => {
    if (!elements.has(id)) {
      const clicks = [];
      elements.set(id, { id, textContent: '', value: '', disabled: id === 'call-echo', clicks, addEventListener: (type, fn) => type === 'click' && clicks.push(fn) });
    }
    return elements.get(id);
  };
  const style = { setProperty: (k, v) => { style[k] = v; } };
  const document = { getElementById: element, documentElement: { style, scrollWidth: 300, scrollHeight: 200 }, body: {} };
  const window = { parent: host, addEventListener: (type, fn) => type === 'message' && listeners.push(fn) };
  vm.runInNewContext(script, { window, document });
  const deliver = (data, source = host) => listeners.forEach((fn) => fn({ source, data }));
  return { element, posted, deliver, style };
}

const settle = () => new Promise((r) => setImmediate(r));

/**
 * Subscribe x to uri, wait for `count` notifications/resources/updated of it, unsubscribe, and
 * resolve to the inbox index of the first. That first update is a marker for "everything the
 * session's periodic timers wrote after this point saw every change made before the subscribe":
 * its timer pass read the subscriptions after the subscribe was stored, the store applies
 * commands and answers them in order, and the stream delivers a pass's messages after those of
 * every earlier pass. So a message computed from stale state can only come before the marker.
 */
async function markAfter(x, uri, count) {
  const isMark = (m) => m.method === 'notifications/resources/updated' && m.params?.uri === uri;
  assert.deepEqual(await x.raw('resources/subscribe', { uri }), {});
  await waitFor(() => x.inbox.filter(isMark).length >= count, CEILING_MS, `${count} updates of ${uri}`);
  assert.deepEqual(await x.raw('resources/unsubscribe', { uri }), {});
  return x.inbox.findIndex(isMark);
}

for (const kind of ['http', 'sse']) {
  describe(`reference pack over ${kind === 'sse' ? 'legacy SSE (/sse + /message)' : 'Streamable HTTP (/mcp)'}`, () => {
    let c; // client with sampling and elicitation
    let plain; // client with sampling only: no elicitation capability
    let apps; // an MCP Apps host: declares the extension, nothing else
    const call = (name, args, options) => c.raw('tools/call', args === undefined ? { name } : { name, arguments: args }, options);

    before(async () => {
      c = await connect(kind, { sampling: {}, elicitation: {} });
      plain = await connect(kind, { sampling: {} });
      apps = await connect(kind, APPS_CAPABILITIES);
    });
    after(async () => {
      for (const x of [c, plain, apps]) {
        if (!x) continue;
        if (kind === 'http') await x.transport.terminateSession().catch(() => {});
        await x.client.close().catch(() => {});
      }
    });

    test('initialize: server info and capabilities of the peer', () => {
      assert.deepEqual(c.client.getServerVersion(), { name: 'example-servers/feature-reference', version: '1.0.0' });
      assert.deepEqual(c.client.getServerCapabilities(), { prompts: {}, resources: { subscribe: true }, tools: {}, logging: {}, completions: {} });
    });

    test('ping answers {}', async () => {
      assert.deepEqual(await c.raw('ping'), {});
    });

    // ---- tools ----

    test('tools/list: the 7 tools, exact, for a client without elicitation', async () => {
      assert.deepEqual(await plain.raw('tools/list'), { tools: REFERENCE_TOOLS });
    });

    test('tools/list: 8 tools (elicitInputs last) for a client that declares elicitation', async () => {
      assert.deepEqual(await c.raw('tools/list'), { tools: [...REFERENCE_TOOLS, ELICIT_TOOL] });
    });

    test('echo', async () => {
      assert.deepEqual(await call('echo', { message: 'hello, wörld "quoted"' }), { content: [{ type: 'text', text: 'Echo: hello, wörld "quoted"' }] });
    });

    test('add formats numbers as JavaScript does', async () => {
      for (const [a, b, text] of [
        [2, 3, 'The sum of 2 and 3 is 5.'],
        [0.1, 0.2, 'The sum of 0.1 and 0.2 is 0.30000000000000004.'],
        [-1.5, 1e21, 'The sum of -1.5 and 1e+21 is 1e+21.'],
        [1.0, 0.0000001, 'The sum of 1 and 1e-7 is 1.0000001.'],
      ]) {
        assert.deepEqual(await call('add', { a, b }), { content: [{ type: 'text', text }] });
      }
    });

    test('longRunningOperation reports progress 1..steps of steps, then completes', async (t) => {
      const progress = [];
      const from = c.notes('notifications/progress').length;
      const errorsFrom = c.errors.length;
      const started = Date.now();
      const r = await call('longRunningOperation', { duration: 0.3, steps: 3 }, { onprogress: (p) => progress.push(p) });
      assert.deepEqual(r, { content: [{ type: 'text', text: 'Long running operation completed. Duration: 0.3 seconds, Steps: 3.' }] });
      // A lower bound only: the server's step timers start after the request was sent and
      // never fire early, however loaded the machine.
      assert.ok(Date.now() - started >= 250, 'three steps of 100 ms');
      // On the wire: three notifications for the request's token, all before the result.
      const sent = c.notes('notifications/progress').slice(from).map((n) => n.params);
      const token = sent[0]?.progressToken;
      assert.ok(typeof token === 'number' || typeof token === 'string', 'the SDK sent _meta.progressToken');
      assert.deepEqual(sent, [1, 2, 3].map((i) => ({ progressToken: token, progress: i, total: 3 })));
      // Through the SDK: it runs a notification handler a microtask after the transport delivers
      // the notification but handles a response at once, dropping the request's progress
      // handler; a notification that arrived in the same network chunk as the result (over
      // legacy SSE the last one often does) then goes to onerror as "unknown token" instead of
      // onprogress. Which ones share the result's chunk is up to the network, so assert that
      // every notification reached exactly one of the two, in order, and only a tail was dropped.
      const all = [1, 2, 3].map((i) => ({ progress: i, total: 3 }));
      const dropped = c.errors.slice(errorsFrom)
        .map((e) => /^Received a progress notification for an unknown token: (.*)$/s.exec(e.message))
        .filter((m) => m && JSON.parse(m[1]).params.progressToken === token)
        .map((m) => { const { progressToken, ...p } = JSON.parse(m[1]).params; return p; }); // eslint-disable-line no-unused-vars
      t.diagnostic(`onprogress got ${progress.length}, the SDK dropped ${dropped.length}`);
      assert.deepEqual([...progress, ...dropped], all, `onprogress ${JSON.stringify(progress)}, dropped ${JSON.stringify(dropped)}`);
      // Streamable HTTP hands the SDK one event per read, so nothing is dropped there.
      if (kind === 'http') assert.deepEqual(dropped, []);
    });

    test('longRunningOperation with steps 0 answers at once', async () => {
      assert.deepEqual(await call('longRunningOperation', { duration: 5, steps: 0 }),
        { content: [{ type: 'text', text: 'Long running operation completed. Duration: 5 seconds, Steps: 0.' }] });
    });

    test('sampleLLM: sampling/createMessage with the peer params; the result is the client\'s answer', async () => {
      const before = c.requests('sampling/createMessage').length;
      const answered = c.samplingAnswers.length;
      const r = await call('sampleLLM', { prompt: 'Say hi', maxTokens: 42 });
      // The text comes from the handler's answer, so the server used the reply (not a timeout).
      assert.deepEqual(r, { content: [{ type: 'text', text: 'LLM sampling result: sampled: Resource sampleLLM context: Say hi' }] });
      assert.equal(c.samplingAnswers.length, answered + 1, 'one sampling request answered by the handler');
      const sent = c.requests('sampling/createMessage').slice(before);
      assert.equal(sent.length, 1);
      assert.deepEqual(sent[0].params, samplingParams('Resource sampleLLM context: Say hi', 42));
    });

    test('sampleLLM defaults maxTokens to 100', async () => {
      const before = c.requests('sampling/createMessage').length;
      const r = await call('sampleLLM', { prompt: 'x' });
      assert.deepEqual(r.content, [{ type: 'text', text: 'LLM sampling result: sampled: Resource sampleLLM context: x' }]);
      assert.deepEqual(c.requests('sampling/createMessage').slice(before).map((m) => m.params), [samplingParams('Resource sampleLLM context: x', 100)]);
    });

    test('getTinyImage returns the MCP tiny image (SHA-256 checked)', async () => {
      const r = await call('getTinyImage', {});
      assert.equal(r.content.length, 3);
      assert.deepEqual(r.content[0], { type: 'text', text: 'This is a tiny image:' });
      assert.deepEqual(Object.keys(r.content[1]).sort(), ['data', 'mimeType', 'type']);
      assert.equal(r.content[1].type, 'image');
      assert.equal(r.content[1].mimeType, 'image/png');
      assertTinyImage(r.content[1].data);
      assert.deepEqual(r.content[2], { type: 'text', text: 'The image above is the MCP tiny image.' });
    });

    test('annotatedMessage: error, success, debug, with and without the image', async () => {
      const first = {
        error: { type: 'text', text: 'Error: Operation failed', annotations: { priority: 1, audience: ['user', 'assistant'] } },
        success: { type: 'text', text: 'Operation completed successfully', annotations: { priority: 0.7, audience: ['user'] } },
        debug: { type: 'text', text: 'Debug: Cache hit ratio 0.95, latency 150ms', annotations: { priority: 0.3, audience: ['assistant'] } },
      };
      for (const messageType of ['error', 'success', 'debug']) {
        assert.deepEqual(await call('annotatedMessage', { messageType }), { content: [first[messageType]] }, messageType);
        assert.deepEqual(await call('annotatedMessage', { messageType, includeImage: false }), { content: [first[messageType]] }, messageType);
        const r = await call('annotatedMessage', { messageType, includeImage: true });
        assert.equal(r.content.length, 2, messageType);
        assert.deepEqual(r.content[0], first[messageType]);
        const { data, ...image } = r.content[1];
        assert.deepEqual(image, { type: 'image', mimeType: 'image/png', annotations: { priority: 0.5, audience: ['user'] } });
        assertTinyImage(data);
      }
    });

    test('annotatedMessage with an invalid messageType is a -32603 validation error', async () => {
      await rejectsWithIssue(call('annotatedMessage', { messageType: 'fatal' }), -32603,
        { path: ['messageType'], message: "Invalid enum value. Expected 'error' | 'success' | 'debug', received 'fatal'" });
    });

    test('getResourceReference embeds the full resource object', async () => {
      for (const n of [1, 2, 100]) {
        assert.deepEqual(await call('getResourceReference', { resourceId: n }), {
          content: [
            { type: 'text', text: `Returning resource reference for Resource ${n}:` },
            { type: 'resource', resource: resource(n) },
            { type: 'text', text: `You can access this resource using the URI: test://static/resource/${n}` },
          ],
        });
      }
    });

    test('getResourceReference outside 1..100 is a -32603 validation error', async () => {
      await rejectsWithIssue(call('getResourceReference', { resourceId: 0 }), -32603,
        { path: ['resourceId'], message: 'Number must be greater than or equal to 1' });
      await rejectsWithIssue(call('getResourceReference', { resourceId: 101 }), -32603,
        { path: ['resourceId'], message: 'Number must be less than or equal to 100' });
    });

    test('elicitInputs: elicitation/create with the exact form, result echoes the answer', async () => {
      const before = c.requests('elicitation/create').length;
      const r = await call('elicitInputs', {});
      assert.deepEqual(r, { content: [{ type: 'text', text: `Elicitation result: ${JSON.stringify(ELICIT_ANSWER, null, 2)}` }] });
      const sent = c.requests('elicitation/create').slice(before);
      assert.equal(sent.length, 1);
      assert.deepEqual(sent[0].params, { message: 'Please provide inputs for the following fields:', requestedSchema: ELICIT_SCHEMA });
    });

    test('tools/call of an unknown tool is -32602 Unknown tool', async () => {
      await rejectsWith(call('no_such_tool', {}), -32602, 'Unknown tool: no_such_tool');
    });

    test('elicitInputs is not callable by a client without elicitation', async () => {
      await rejectsWith(plain.raw('tools/call', { name: 'elicitInputs', arguments: {} }), -32602, 'Unknown tool: elicitInputs');
      assert.equal(plain.requests('elicitation/create').length, 0);
    });

    // ---- MCP Apps ----

    test('tools/list: mcp_apps_hello_world, with its UI resource in _meta, only for an MCP Apps host', async () => {
      assert.deepEqual(await apps.raw('tools/list'), { tools: [...REFERENCE_TOOLS, APPS_TOOL] });
      assert.ok(!(await c.raw('tools/list')).tools.some((t) => t.name === APPS_TOOL.name));
      await rejectsWith(call('mcp_apps_hello_world', {}), -32602, 'Unknown tool: mcp_apps_hello_world');
    });

    test('mcp_apps_hello_world: text a host without the view can show, and the UI resource', async () => {
      assert.deepEqual(await apps.raw('tools/call', { name: 'mcp_apps_hello_world', arguments: {} }),
        { content: [{ type: 'text', text: 'Hello World MCP App loaded!' }], _meta: APP_META });
    });

    test('resources/read of the view: text/html;profile=mcp-app, not in resources/list', async () => {
      const r = await apps.raw('resources/read', { uri: APP_URI });
      assert.equal(r.contents.length, 1);
      assert.deepEqual(Object.keys(r.contents[0]), ['uri', 'mimeType', 'text']);
      assert.equal(r.contents[0].uri, APP_URI);
      assert.equal(r.contents[0].mimeType, 'text/html;profile=mcp-app');
      assert.match(r.contents[0].text, /^<!DOCTYPE html>\n/);
      assert.equal((await apps.raw('resources/list')).resources.some((e) => e.uri.startsWith('ui://')), false);
    });

    test('the view: ui/initialize handshake, shows tool input and result, calls echo through the host', async () => {
      const toolResult = await apps.raw('tools/call', { name: 'mcp_apps_hello_world', arguments: {} });
      const html = (await apps.raw('resources/read', { uri: APP_URI })).contents[0].text;
      const view = runView(html);
      // The view speaks first: ui/initialize, and nothing else until it is answered.
      assert.equal(view.posted.length, 1);
      const init = view.posted[0].msg;
      assert.equal(init.jsonrpc, '2.0');
      assert.equal(init.method, 'ui/initialize');
      assert.equal(init.params.protocolVersion, '2026-01-26');
      assert.deepEqual(Object.keys(init.params).sort(), ['appCapabilities', 'appInfo', 'protocolVersion']);
      assert.equal(view.element('call-echo').disabled, true);
      // A message from anything but the host is ignored.
      view.deliver({ jsonrpc: '2.0', id: init.id, result: { protocolVersion: '2026-01-26', hostInfo: { name: 'intruder' } } }, {});
      await settle();
      assert.equal(view.posted.length, 1);
      view.deliver({ jsonrpc: '2.0', id: init.id, result: { protocolVersion: '2026-01-26', hostInfo: { name: 'test-host', version: '1.0.0' }, hostCapabilities: { serverTools: {} }, hostContext: { theme: 'dark' } } });
      await settle();
      assert.equal(view.posted[1].msg.method, 'ui/notifications/initialized');
      assert.equal(view.posted[1].msg.id, undefined);
      assert.match(view.element('status').textContent, /test-host/);
      assert.equal(view.element('call-echo').disabled, false);
      // The host pushes the tool's input and result; the view shows them.
      view.deliver({ jsonrpc: '2.0', method: 'ui/notifications/tool-input', params: { arguments: {} } });
      view.deliver({ jsonrpc: '2.0', method: 'ui/notifications/tool-result', params: toolResult });
      assert.equal(view.element('tool-input').textContent, '{}');
      assert.equal(view.element('tool-result').textContent, JSON.stringify(toolResult, null, 2));
      // The button asks the host for tools/call echo; the host forwards it to mcpd.
      view.element('message').value = '<b>from the view</b>';
      const before = view.posted.length;
      view.element('call-echo').clicks.forEach((fn) => fn());
      const callMsg = view.posted.slice(before).find((p) => p.msg.method === 'tools/call').msg;
      assert.deepEqual(callMsg.params, { name: 'echo', arguments: { message: '<b>from the view</b>' } });
      const answer = await apps.raw('tools/call', callMsg.params);
      view.deliver({ jsonrpc: '2.0', id: callMsg.id, result: answer });
      await settle();
      assert.equal(view.element('echo-answer').textContent, 'Echo: <b>from the view</b>');
      // Teardown is a host request the view answers.
      view.deliver({ jsonrpc: '2.0', id: 'td', method: 'ui/resource-teardown', params: { reason: 'test' } });
      assert.deepEqual(view.posted.at(-1).msg, { jsonrpc: '2.0', id: 'td', result: {} });
    });

    // ---- resources ----

    test('resources/list: 10 pages of 10, cursors MTA= .. OTA=, entries without contents', async () => {
      const cursors = [];
      const entries = [];
      let cursor;
      for (let page = 1; page <= 12; page++) {
        const r = await c.raw('resources/list', cursor === undefined ? {} : { cursor });
        assert.equal(r.resources.length, 10, `page ${page}`);
        entries.push(...r.resources);
        if (!('nextCursor' in r)) {
          assert.deepEqual(Object.keys(r), ['resources'], 'the last page has no nextCursor key');
          break;
        }
        assert.deepEqual(Object.keys(r).sort(), ['nextCursor', 'resources']);
        cursor = r.nextCursor;
        cursors.push(cursor);
      }
      assert.deepEqual(cursors, ['MTA=', 'MjA=', 'MzA=', 'NDA=', 'NTA=', 'NjA=', 'NzA=', 'ODA=', 'OTA=']);
      assert.equal(entries.length, 100);
      entries.forEach((e, i) => assert.deepEqual(e, listEntry(i + 1)));
    });

    test('resources/list with cursor OTA= is the last page', async () => {
      const r = await c.raw('resources/list', { cursor: 'OTA=' });
      assert.deepEqual(r, { resources: Array.from({ length: 10 }, (_, i) => listEntry(91 + i)) });
    });

    test('resources/read: odd (text) and even (blob) resources', async () => {
      assert.deepEqual(await c.raw('resources/read', { uri: 'test://static/resource/1' }), {
        contents: [{ uri: 'test://static/resource/1', name: 'Resource 1', mimeType: 'text/plain', text: 'Resource 1: This is a plaintext resource' }],
      });
      assert.deepEqual(await c.raw('resources/read', { uri: 'test://static/resource/2' }), {
        contents: [{ uri: 'test://static/resource/2', name: 'Resource 2', mimeType: 'application/octet-stream', blob: 'UmVzb3VyY2UgMjogVGhpcyBpcyBhIGJhc2U2NCBibG9i' }],
      });
      for (const n of [99, 100]) assert.deepEqual(await c.raw('resources/read', { uri: `test://static/resource/${n}` }), { contents: [resource(n)] });
    });

    test('resources/read returns the canonical URI (…/01 is resource 1)', async () => {
      assert.deepEqual(await c.raw('resources/read', { uri: 'test://static/resource/01' }), { contents: [resource(1)] });
    });

    test('resources/read of an unknown resource is an error', async () => {
      for (const uri of ['test://static/resource/101', 'test://static/resource/0', 'test://static/resource/x']) {
        await rejectsWith(c.raw('resources/read', { uri }), -32603, `Unknown resource: ${uri}`);
      }
      // Outside the pack's URI space the dispatcher answers, as the MCP specification says.
      for (const uri of ['test://other/1', 'file:///etc/passwd']) {
        await rejectsWith(c.raw('resources/read', { uri }), -32002, `Resource not found: ${uri}`, { uri });
      }
    });

    test('resources/templates/list', async () => {
      assert.deepEqual(await c.raw('resources/templates/list'), {
        resourceTemplates: [{ uriTemplate: 'test://static/resource/{id}', name: 'Static Resource', description: 'A static resource with a numeric ID' }],
      });
    });

    test('resources/subscribe: sampling request first, then {} and notifications/resources/updated', async () => {
      const uri = 'test://static/resource/7';
      const sampledBefore = c.requests('sampling/createMessage').length;
      assert.deepEqual(await c.raw('resources/subscribe', { uri }), {});
      assert.deepEqual(c.requests('sampling/createMessage').slice(sampledBefore).map((m) => m.params),
        [samplingParams(`Resource ${uri} context: A new subscription was started`)]);
      const updated = () => c.notes('notifications/resources/updated').filter((n) => n.params?.uri === uri);
      await waitFor(() => updated().length >= 2, CEILING_MS, 'two notifications/resources/updated');
      for (const n of updated()) assert.deepEqual(n, { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri } });

      assert.deepEqual(await c.raw('resources/unsubscribe', { uri }), {});
      // An update whose pass read the subscriptions before the unsubscribe may still be on its
      // way; none may follow the first update of a resource subscribed after it.
      const first = await markAfter(c, 'test://static/resource/8', 5);
      assert.deepEqual(c.inbox.slice(first).filter((m) => m.method === 'notifications/resources/updated' && m.params?.uri === uri), [],
        'no update after unsubscribe');
    });

    // ---- prompts ----

    test('prompts/list', async () => {
      assert.deepEqual(await c.raw('prompts/list'), {
        prompts: [
          { name: 'simple_prompt', description: 'A prompt without arguments' },
          {
            name: 'complex_prompt', description: 'A prompt with arguments',
            arguments: [{ name: 'temperature', description: 'Temperature setting', required: true }, { name: 'style', description: 'Output style', required: false }],
          },
          {
            name: 'resource_prompt', description: 'A prompt that includes an embedded resource reference',
            arguments: [{ name: 'resourceId', description: 'Resource ID to include (1-100)', required: true }],
          },
        ],
      });
    });

    test('prompts/get simple_prompt', async () => {
      assert.deepEqual(await c.raw('prompts/get', { name: 'simple_prompt' }), {
        messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt without arguments.' } }],
      });
    });

    test('prompts/get complex_prompt with both arguments, and with style missing', async () => {
      for (const [args, text] of [
        [{ temperature: '0.7', style: 'formal' }, 'This is a complex prompt with arguments: temperature=0.7, style=formal'],
        [{ temperature: '0.7' }, 'This is a complex prompt with arguments: temperature=0.7, style=undefined'],
      ]) {
        const r = await c.raw('prompts/get', { name: 'complex_prompt', arguments: args });
        assert.equal(r.messages.length, 3);
        assert.deepEqual(r.messages[0], { role: 'user', content: { type: 'text', text } });
        assert.deepEqual(r.messages[1], {
          role: 'assistant',
          content: { type: 'text', text: "I understand. You've provided a complex prompt with temperature and style arguments. How would you like me to proceed?" },
        });
        const { data, ...image } = r.messages[2].content;
        assert.deepEqual({ role: r.messages[2].role, content: image }, { role: 'user', content: { type: 'image', mimeType: 'image/png' } });
        assertTinyImage(data);
      }
    });

    test('prompts/get resource_prompt embeds the resource (odd and even)', async () => {
      for (const n of [3, 4]) {
        assert.deepEqual(await c.raw('prompts/get', { name: 'resource_prompt', arguments: { resourceId: String(n) } }), {
          messages: [
            { role: 'user', content: { type: 'text', text: `This prompt includes Resource ${n}. Please analyze the following resource:` } },
            { role: 'user', content: { type: 'resource', resource: resource(n) } },
          ],
        });
      }
    });

    test('prompts/get resource_prompt with an invalid resourceId', async () => {
      for (const id of ['0', '101', 'abc']) {
        await rejectsWith(c.raw('prompts/get', { name: 'resource_prompt', arguments: { resourceId: id } }), -32603,
          `Invalid resourceId: ${id}. Must be a number between 1 and 100.`);
      }
    });

    test('prompts/get of an unknown prompt is -32602 Unknown prompt', async () => {
      await rejectsWith(c.raw('prompts/get', { name: 'no_such_prompt' }), -32602, 'Unknown prompt: no_such_prompt');
    });

    // ---- completions ----

    test('completion/complete: every case of §8.6', async () => {
      const complete = (ref, name, value) => c.raw('completion/complete', { ref, argument: { name, value } });
      const prompt = { type: 'ref/prompt', name: 'complex_prompt' };
      const done = (values) => ({ completion: { values, hasMore: false, total: values.length } });
      const cases = [
        [{ type: 'ref/resource', uri: 'test://static/resource/{id}' }, 'id', '', done(['1', '2', '3', '4', '5'])],
        [{ type: 'ref/resource', uri: 'test://static/resource/{id}' }, 'id', '3', done(['3'])],
        [{ type: 'ref/resource', uri: 'test://static/resource/{id}' }, 'anything', '9', done([])],
        [{ type: 'ref/resource', uri: 'test://static/resource/' }, 'id', '', { completion: { values: [] } }],
        [prompt, 'style', '', done(['casual', 'formal', 'technical', 'friendly'])],
        [prompt, 'style', 'f', done(['formal', 'friendly'])],
        [prompt, 'style', 'z', done([])],
        [prompt, 'temperature', '0', done(['0', '0.5', '0.7'])],
        [prompt, 'temperature', '1', done(['1.0'])],
        [{ type: 'ref/prompt', name: 'simple_prompt' }, 'resourceId', '', done(['1', '2', '3', '4', '5'])],
        [prompt, 'unknown', 'x', { completion: { values: [] } }],
      ];
      for (const [ref, name, value, expected] of cases) {
        assert.deepEqual(await complete(ref, name, value), expected, `${JSON.stringify(ref)} ${name}=${JSON.stringify(value)}`);
      }
    });

    test('completion/complete ignores the prompt name (§8.6): an unknown prompt completes too', async () => {
      assert.deepEqual(await c.raw('completion/complete', { ref: { type: 'ref/prompt', name: 'no_such_prompt' }, argument: { name: 'resourceId', value: '2' } }),
        { completion: { values: ['2'], hasMore: false, total: 1 } });
    });

    test('completion/complete with another ref.type is -32602', async () => {
      await rejectsWith(c.raw('completion/complete', { ref: { type: 'ref/other', name: 'x' }, argument: { name: 'style', value: '' } }),
        -32602, 'Invalid params: ref.type must be ref/prompt or ref/resource');
    });

    // ---- logging and the periodic notifications ----

    const randomLogs = (x) => x.notes('notifications/message').filter((n) => RANDOM_LOG_TEXTS.has(n.params?.data));
    async function setLevel(level) {
      const data = `Logging level set to: ${level}`;
      const announcements = () => c.notes('notifications/message').filter((n) => n.params?.data === data);
      const before = announcements().length;
      assert.deepEqual(await c.raw('logging/setLevel', { level }), {});
      // announced unfiltered, on the standalone stream (the GET stream over /mcp)
      await waitFor(() => announcements().length > before, CEILING_MS, `the setLevel ${level} announcement`);
      assert.deepEqual(announcements().at(-1).params, { level: 'debug', logger: 'test-server', data });
    }

    test('logging/setLevel emergency: no random log below emergency arrives', async () => {
      await setLevel('emergency');
      // A random log whose pass read the level before the change may still be on its way; none
      // after the first update of a resource subscribed after it. Ten update periods are five
      // random-log periods.
      const first = await markAfter(c, 'test://static/resource/9', 10);
      const seen = c.inbox.slice(first).filter((m) => m.method === 'notifications/message' && m.id === undefined && RANDOM_LOG_TEXTS.has(m.params?.data));
      assert.deepEqual(seen.filter((n) => n.params.level !== 'emergency'), [], 'filtered by level');
      for (const n of seen) assert.deepEqual(n.params, { level: 'emergency', data: RANDOM_LOG.emergency });
    });

    test('logging/setLevel debug: several random log messages arrive, each from the table', async () => {
      await setLevel('debug');
      const from = randomLogs(c).length;
      await waitFor(() => randomLogs(c).length - from >= 3, CEILING_MS, 'three random log messages');
      for (const n of randomLogs(c).slice(from)) {
        assert.deepEqual(n.params, { level: n.params.level, data: RANDOM_LOG[n.params.level] });
        assert.deepEqual(Object.keys(n).sort(), ['jsonrpc', 'method', 'params']);
      }
    });

    test('logging/setLevel with an invalid level is -32602', async () => {
      await rejectsWith(c.raw('logging/setLevel', { level: 'verbose' }), -32602,
        'Invalid params: level must be one of debug, info, notice, warning, error, critical, alert, emergency');
    });

    test('notifications/stderr arrives with a 12-hour timestamp', async () => {
      const stderr = await waitFor(() => c.notes('notifications/stderr')[0], CEILING_MS, 'notifications/stderr');
      assert.deepEqual(Object.keys(stderr.params), ['content']);
      assert.match(stderr.params.content, /^(0[1-9]|1[0-2]):[0-5]\d:[0-5]\d [AP]M: A stderr message$/);
    });
  });
}

test('mcpd stops cleanly on SIGTERM with no sanitizer report', async () => {
  await server.stop();
});

// Both packs in one server (--features reference,conformance): the reference pack comes first in
// every list and keeps its serverInfo; the conformance fixtures follow it.
describe('--features reference,conformance over Streamable HTTP', () => {
  let both;
  let x;
  before(async () => {
    both = await startServer({ name: 'reference-conformance', features: 'reference,conformance' });
    x = new Client({ name: 'mcpd-reference-test', version: '1.0.0' }, { capabilities: { sampling: {} } });
    await x.connect(new StreamableHTTPClientTransport(new URL(both.url)));
  });
  after(async () => {
    await x?.close().catch(() => {});
    await both?.stop();
  });
  const raw = (method, params) => x.request(params === undefined ? { method } : { method, params }, ResultSchema);

  test('serverInfo of the reference pack; tools of both packs, reference first', async () => {
    assert.deepEqual(x.getServerVersion(), { name: 'example-servers/feature-reference', version: '1.0.0' });
    const { tools } = await raw('tools/list');
    assert.deepEqual(tools.slice(0, 7), REFERENCE_TOOLS);
    assert.ok(tools.some((t) => t.name === 'test_simple_text'), 'conformance tools listed');
    assert.deepEqual((await raw('tools/call', { name: 'echo', arguments: { message: 'both' } })).content, [{ type: 'text', text: 'Echo: both' }]);
    assert.deepEqual((await raw('tools/call', { name: 'test_simple_text', arguments: {} })).content,
      [{ type: 'text', text: 'This is a simple text response for testing.' }]);
  });

  test('resources/list walks the 100 reference resources, then the conformance ones', async () => {
    const uris = [];
    let cursor;
    for (let page = 0; page < 20; page++) {
      const r = await raw('resources/list', cursor === undefined ? {} : { cursor });
      uris.push(...r.resources.map((e) => e.uri));
      if (!('nextCursor' in r)) break;
      cursor = r.nextCursor;
    }
    assert.deepEqual(uris.slice(0, 100), Array.from({ length: 100 }, (_, i) => `test://static/resource/${i + 1}`));
    assert.deepEqual(uris.slice(100), ['test://static-text', 'test://static-binary', 'test://watched-resource']);
    assert.deepEqual(await raw('resources/read', { uri: 'test://static/resource/2' }), { contents: [resource(2)] });
  });

  test('prompts and completions of the reference pack still answer', async () => {
    const { prompts } = await raw('prompts/list');
    assert.deepEqual(prompts.slice(0, 3).map((p) => p.name), ['simple_prompt', 'complex_prompt', 'resource_prompt']);
    assert.deepEqual(await raw('completion/complete', { ref: { type: 'ref/prompt', name: 'complex_prompt' }, argument: { name: 'style', value: 'f' } }),
      { completion: { values: ['formal', 'friendly'], hasMore: false, total: 2 } });
  });

  test('mcpd (reference,conformance) stops cleanly', async () => {
    await x.close();
    await both.stop();
  });
});
