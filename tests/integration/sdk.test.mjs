// mcpd against the official TypeScript SDK client (v1) over Streamable HTTP, with the
// conformance fixture pack: every tool, resource, prompt and utility, the server->client
// requests (sampling, elicitation), request-scoped notifications (progress, logging), SSE
// resumption with Last-Event-ID, and session termination. The tests run in order on one session.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

import { startServer } from './lib/server.mjs';
import { sseEvents } from './lib/sse.mjs';

const FIXTURE_TOOLS = [
  'test_simple_text', 'test_image_content', 'test_audio_content', 'test_embedded_resource',
  'test_multiple_content_types', 'test_tool_with_logging', 'test_error_handling',
  'test_tool_with_progress', 'test_sampling', 'test_elicitation',
  'test_elicitation_sep1034_defaults', 'test_elicitation_sep1330_enums',
  'json_schema_2020_12_tool', 'test_reconnection',
];
const LOG_TEXTS = ['Tool execution started', 'Tool processing data', 'Tool execution completed'];
const RECONNECTED_TEXT = 'Reconnection test completed successfully. If you received this, the client '
  + 'properly reconnected after stream closure.';

const DEFAULTS_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  },
  required: [],
};
const ENUMS_SCHEMA = {
  type: 'object',
  properties: {
    untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
    titledSingle: {
      type: 'string', description: 'Select one option with titles',
      oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' }],
    },
    legacyEnum: {
      type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3,
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array', description: 'Select multiple options with titles', minItems: 1, maxItems: 3,
      items: {
        anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' }],
      },
    },
  },
  required: [],
};

let server;
let client;
let transport;
const sent = []; // every JSON-RPC message the client POSTed, to check what the SDK put on the wire
const logs = []; // notifications/message params
const serverRequests = []; // { method, params } of sampling/elicitation requests the server sent

// Each elicitation tool gets its own scripted answer, chosen by the request's message.
function elicitAnswer(params) {
  if (params.message === 'Please review and update the form fields with defaults') {
    return { action: 'accept', content: { name: 'Jane Roe', age: 31 } };
  }
  if (params.message === 'Please select options from the enum fields') return { action: 'decline' };
  return { action: 'accept', content: { response: 'yes please' } };
}

function recordingFetch(url, init) {
  if (init?.method === 'POST' && typeof init.body === 'string') {
    try {
      const msg = JSON.parse(init.body);
      for (const m of Array.isArray(msg) ? msg : [msg]) sent.push(m);
    } catch { /* not JSON: nothing to record */ }
  }
  return fetch(url, init);
}

before(async () => {
  server = await startServer({ name: 'sdk' });
  client = new Client({ name: 'mcpd-sdk-test', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} } } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    serverRequests.push({ method: req.method, params: req.params });
    const prompt = req.params.messages?.[0]?.content?.text;
    return { role: 'assistant', content: { type: 'text', text: `echo: ${prompt}` }, model: 'stub-model', stopReason: 'endTurn' };
  });
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    serverRequests.push({ method: req.method, params: req.params });
    return elicitAnswer(req.params);
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });
  transport = new StreamableHTTPClientTransport(new URL(server.url), {
    fetch: recordingFetch,
    reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
  });
});

after(async () => {
  await client?.close().catch(() => {});
  await server?.stop(); // an unclean stop fails the run even if the stop test never ran
});

const textOf = (result) => result.content.map((c) => c.text).join('');
async function call(name, args) {
  return client.callTool(args === undefined ? { name } : { name, arguments: args });
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

// ---- lifecycle ----

test('initialize negotiates 2025-11-25 and reports the fixture server info', async () => {
  await client.connect(transport);
  assert.match(transport.sessionId, /^[\x21-\x7e]+$/);
  assert.equal(transport.protocolVersion, '2025-11-25');
  assert.deepEqual(client.getServerVersion(), { name: 'mcp-conformance-test-server', version: '1.0.0' });
  assert.deepEqual(client.getServerCapabilities(), {
    tools: { listChanged: true }, resources: { subscribe: true, listChanged: true },
    prompts: { listChanged: true }, logging: {}, completions: {},
  });
});

test('ping answers an empty result', async () => {
  assert.deepEqual(await client.ping(), {});
});

// ---- tools ----

test('tools/list has every fixture tool with a name, description and inputSchema', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const name of FIXTURE_TOOLS) assert.ok(names.includes(name), `missing tool ${name}`);
  for (const t of tools) {
    assert.equal(typeof t.description, 'string', `${t.name} description`);
    assert.equal(t.inputSchema?.type, 'object', `${t.name} inputSchema`);
  }
  const s = tools.find((t) => t.name === 'json_schema_2020_12_tool').inputSchema;
  assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(s.$defs.address, { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } });
  assert.equal(s.properties.address.$ref, '#/$defs/address');
  assert.equal(s.additionalProperties, false);
  // the 2020-12 vocabulary the 2026-07-28 suite looks for (SEP-2106): composition and conditionals
  assert.deepEqual(s.allOf, [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }]);
  assert.deepEqual([s.if, s.then, s.else], [{ properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
    { required: ['phone'] }, { required: ['email'] }]);
  assert.deepEqual(tools.find((t) => t.name === 'test_sampling').inputSchema.required, ['prompt']);
});

test('test_simple_text (called without arguments) returns the fixture text', async () => {
  const r = await call('test_simple_text');
  assert.deepEqual(r.content, [{ type: 'text', text: 'This is a simple text response for testing.' }]);
  assert.ok(!r.isError);
});

function assertRedPixelPng(b64) {
  const png = Buffer.from(b64, 'base64');
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), 1); // width
  assert.equal(png.readUInt32BE(20), 1); // height
  assert.equal(png.toString('latin1', png.length - 8, png.length - 4), 'IEND');
}

test('test_image_content returns a 1x1 PNG', async () => {
  const r = await call('test_image_content', {});
  assert.equal(r.content.length, 1);
  assert.equal(r.content[0].type, 'image');
  assert.equal(r.content[0].mimeType, 'image/png');
  assertRedPixelPng(r.content[0].data);
});

test('test_audio_content returns a WAV', async () => {
  const r = await call('test_audio_content', {});
  assert.equal(r.content[0].type, 'audio');
  assert.equal(r.content[0].mimeType, 'audio/wav');
  const wav = Buffer.from(r.content[0].data, 'base64');
  assert.equal(wav.toString('latin1', 0, 4), 'RIFF');
  assert.equal(wav.toString('latin1', 8, 12), 'WAVE');
  assert.equal(wav.readUInt32LE(4), wav.length - 8); // RIFF size matches the payload
});

test('test_embedded_resource returns the embedded text resource', async () => {
  const r = await call('test_embedded_resource', {});
  assert.deepEqual(r.content, [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }]);
});

test('test_multiple_content_types returns text, image and resource', async () => {
  const r = await call('test_multiple_content_types', {});
  assert.equal(r.content.length, 3);
  assert.deepEqual(r.content[0], { type: 'text', text: 'Multiple content types test:' });
  assert.equal(r.content[1].type, 'image');
  assertRedPixelPng(r.content[1].data);
  assert.deepEqual(r.content[2], { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } });
});

test('test_error_handling is a tool error, not a protocol error', async () => {
  const r = await call('test_error_handling', {});
  assert.equal(r.isError, true);
  assert.deepEqual(r.content, [{ type: 'text', text: 'This tool intentionally returns an error for testing' }]);
});

test('test_tool_with_logging sends three info messages after logging/setLevel debug', async () => {
  assert.deepEqual(await client.setLoggingLevel('debug'), {});
  logs.length = 0;
  const r = await call('test_tool_with_logging', {});
  assert.equal(textOf(r), 'Tool with logging executed successfully');
  const ours = logs.filter((l) => LOG_TEXTS.includes(l.data));
  assert.deepEqual(ours.map((l) => l.data), LOG_TEXTS);
  for (const l of ours) assert.equal(l.level, 'info');
});

test('test_tool_with_logging: logging/setLevel error filters out info messages', async () => {
  await client.setLoggingLevel('error');
  logs.length = 0;
  await call('test_tool_with_logging', {});
  assert.deepEqual(logs.filter((l) => LOG_TEXTS.includes(l.data)), []);
  await client.setLoggingLevel('debug');
});

test('test_tool_with_progress reports 0, 50, 100 of 100 for the request progressToken', async () => {
  const progress = [];
  const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined,
    { onprogress: (p) => progress.push(p) });
  const req = sent.findLast((m) => m.method === 'tools/call' && m.params?.name === 'test_tool_with_progress');
  const token = req.params._meta?.progressToken;
  assert.notEqual(token, undefined, 'the SDK sends _meta.progressToken when onprogress is set');
  assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[0, 100], [50, 100], [100, 100]]);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress >= progress[i - 1].progress);
  assert.equal(textOf(r), String(token));
});

test('test_sampling sends sampling/createMessage during the call and returns the reply', async () => {
  serverRequests.length = 0;
  const r = await call('test_sampling', { prompt: 'What is 2+2?' });
  assert.equal(textOf(r), 'LLM response: echo: What is 2+2?');
  assert.equal(serverRequests.length, 1);
  assert.equal(serverRequests[0].method, 'sampling/createMessage');
  assert.deepEqual(serverRequests[0].params.messages, [{ role: 'user', content: { type: 'text', text: 'What is 2+2?' } }]);
  assert.equal(serverRequests[0].params.maxTokens, 100);
});

test('test_sampling without its required prompt is rejected with -32602', async () => {
  await rejectsWith(call('test_sampling', {}), -32602, "Invalid params: missing required string argument 'prompt'");
});

test('test_elicitation sends elicitation/create and reports the answer', async () => {
  serverRequests.length = 0;
  const r = await call('test_elicitation', { message: 'Please confirm' });
  assert.equal(textOf(r), 'User response: action=accept, content={"response":"yes please"}');
  assert.equal(serverRequests.length, 1);
  const p = serverRequests[0].params;
  assert.equal(serverRequests[0].method, 'elicitation/create');
  assert.equal(p.message, 'Please confirm');
  assert.deepEqual(p.requestedSchema, {
    type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'],
  });
});

test('test_elicitation without its required message is rejected with -32602', async () => {
  await rejectsWith(call('test_elicitation', {}), -32602, "Invalid params: missing required string argument 'message'");
});

test('test_elicitation_sep1034_defaults sends defaults for every primitive type', async () => {
  serverRequests.length = 0;
  const r = await call('test_elicitation_sep1034_defaults', {});
  assert.equal(textOf(r), 'Elicitation completed: action=accept, content={"name":"Jane Roe","age":31}');
  assert.deepEqual(serverRequests[0].params.requestedSchema, DEFAULTS_SCHEMA);
});

test('test_elicitation_sep1330_enums sends the five enum shapes', async () => {
  serverRequests.length = 0;
  const r = await call('test_elicitation_sep1330_enums', {});
  assert.equal(textOf(r), 'Elicitation completed: action=decline, content={}');
  assert.deepEqual(serverRequests[0].params.requestedSchema, ENUMS_SCHEMA);
});

test('json_schema_2020_12_tool echoes its arguments as JSON', async () => {
  const r = await call('json_schema_2020_12_tool', { name: 'Ada', address: { street: '1 Main St', city: 'Paris' } });
  assert.equal(textOf(r), 'JSON Schema 2020-12 tool called with: {"name":"Ada","address":{"street":"1 Main St","city":"Paris"}}');
});

test('test_reconnection through the SDK: the client reconnects and gets the result', async () => {
  const r = await call('test_reconnection', {});
  assert.equal(textOf(r), RECONNECTED_TEXT);
});

test('calling an unknown tool is -32602 Unknown tool (a protocol error, not isError)', async () => {
  await rejectsWith(call('no_such_tool', {}), -32602, 'Unknown tool: no_such_tool');
});

// ---- resources ----

test('resources/list has the three fixture resources', async () => {
  const { resources } = await client.listResources();
  const byUri = Object.fromEntries(resources.map((r) => [r.uri, r]));
  for (const [uri, mime] of [['test://static-text', 'text/plain'], ['test://static-binary', 'image/png'], ['test://watched-resource', 'text/plain']]) {
    assert.ok(byUri[uri], `missing ${uri}`);
    assert.equal(typeof byUri[uri].name, 'string');
    assert.equal(typeof byUri[uri].description, 'string');
    assert.equal(byUri[uri].mimeType, mime);
  }
});

test('resources/templates/list has test://template/{id}/data', async () => {
  const { resourceTemplates } = await client.listResourceTemplates();
  const t = resourceTemplates.find((x) => x.uriTemplate === 'test://template/{id}/data');
  assert.ok(t, 'missing template');
  assert.equal(t.mimeType, 'application/json');
  assert.equal(typeof t.name, 'string');
});

test('resources/read test://static-text', async () => {
  const r = await client.readResource({ uri: 'test://static-text' });
  assert.deepEqual(r.contents, [{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }]);
});

test('resources/read test://static-binary is a PNG blob', async () => {
  const r = await client.readResource({ uri: 'test://static-binary' });
  assert.equal(r.contents.length, 1);
  assert.equal(r.contents[0].uri, 'test://static-binary');
  assert.equal(r.contents[0].mimeType, 'image/png');
  assertRedPixelPng(r.contents[0].blob);
});

test('resources/read test://watched-resource', async () => {
  const r = await client.readResource({ uri: 'test://watched-resource' });
  assert.equal(r.contents[0].uri, 'test://watched-resource');
  assert.equal(r.contents[0].mimeType, 'text/plain');
  assert.equal(typeof r.contents[0].text, 'string');
});

test('resources/read expands the template for any id', async () => {
  for (const id of ['123', 'abc-XYZ_9']) {
    const uri = `test://template/${id}/data`;
    const r = await client.readResource({ uri });
    assert.deepEqual(r.contents, [{ uri, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }]);
  }
});

test('resources/read of an unknown URI is -32002 Resource not found, with the uri as data', async () => {
  const uri = 'test://no-such-resource';
  await rejectsWith(client.readResource({ uri }), -32002, `Resource not found: ${uri}`, { uri });
});

test('resources/subscribe and unsubscribe answer {}', async () => {
  assert.deepEqual(await client.subscribeResource({ uri: 'test://watched-resource' }), {});
  assert.deepEqual(await client.unsubscribeResource({ uri: 'test://watched-resource' }), {});
});

// ---- prompts and completion ----

test('prompts/list has the four fixture prompts with descriptions', async () => {
  const { prompts } = await client.listPrompts();
  const byName = Object.fromEntries(prompts.map((p) => [p.name, p]));
  for (const name of ['test_simple_prompt', 'test_prompt_with_arguments', 'test_prompt_with_embedded_resource', 'test_prompt_with_image']) {
    assert.ok(byName[name], `missing prompt ${name}`);
    assert.equal(typeof byName[name].description, 'string');
  }
  assert.deepEqual(byName.test_prompt_with_arguments.arguments.map((a) => [a.name, a.required]), [['arg1', true], ['arg2', true]]);
  assert.deepEqual(byName.test_prompt_with_embedded_resource.arguments.map((a) => [a.name, a.required]), [['resourceUri', true]]);
});

test('prompts/get test_simple_prompt', async () => {
  const r = await client.getPrompt({ name: 'test_simple_prompt' });
  assert.deepEqual(r.messages, [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }]);
});

test('prompts/get test_prompt_with_arguments substitutes both values', async () => {
  const r = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'first', arg2: 'second' } });
  assert.deepEqual(r.messages, [{ role: 'user', content: { type: 'text', text: "Prompt with arguments: arg1='first', arg2='second'" } }]);
});

test('prompts/get test_prompt_with_arguments without arg2 is rejected with -32602', async () => {
  await rejectsWith(client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'first' } }), -32602,
    "Invalid params: missing required string argument 'arg2'");
});

test('prompts/get of an unknown prompt is -32602 Unknown prompt', async () => {
  await rejectsWith(client.getPrompt({ name: 'no_such_prompt' }), -32602, 'Unknown prompt: no_such_prompt');
});

test('prompts/get test_prompt_with_embedded_resource embeds the given URI', async () => {
  const r = await client.getPrompt({ name: 'test_prompt_with_embedded_resource', arguments: { resourceUri: 'test://example/doc' } });
  assert.deepEqual(r.messages, [
    { role: 'user', content: { type: 'resource', resource: { uri: 'test://example/doc', mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
    { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
  ]);
});

test('prompts/get test_prompt_with_image', async () => {
  const r = await client.getPrompt({ name: 'test_prompt_with_image' });
  assert.equal(r.messages.length, 2);
  assert.equal(r.messages[0].content.type, 'image');
  assert.equal(r.messages[0].content.mimeType, 'image/png');
  assertRedPixelPng(r.messages[0].content.data);
  assert.deepEqual(r.messages[1], { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } });
});

test('completion/complete for test_prompt_with_arguments', async () => {
  const r = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'test' } });
  assert.deepEqual(r, { completion: { values: [], total: 0, hasMore: false } });
});

// ---- raw HTTP: resumption and termination ----

function sessionHeaders(extra = {}) {
  return { 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': transport.protocolVersion, ...extra };
}

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}

test('a broken POST stream resumes with GET + Last-Event-ID and delivers the result', async () => {
  const ac = new AbortController();
  const post = await fetch(server.url, {
    method: 'POST',
    signal: ac.signal,
    headers: sessionHeaders({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' }),
    body: JSON.stringify({ jsonrpc: '2.0', id: 'resume-1', method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } }),
  });
  assert.equal(post.status, 200);
  assert.match(post.headers.get('content-type'), /^text\/event-stream/);
  const it = sseEvents(post.body);
  const first = (await withTimeout(it.next(), 15000, 'priming event')).value;
  assert.ok(first?.id, 'the first event carries an id (priming event, 2025-11-25)');
  assert.equal(first.data, '', 'the priming event has empty data');
  ac.abort(); // the client side breaks the stream before the result
  await it.return?.().catch(() => {});

  const ac2 = new AbortController();
  const get = await fetch(server.url, {
    method: 'GET', signal: ac2.signal, headers: sessionHeaders({ accept: 'text/event-stream', 'last-event-id': first.id }),
  });
  assert.equal(get.status, 200);
  assert.match(get.headers.get('content-type'), /^text\/event-stream/);
  const result = await withTimeout((async () => {
    for await (const ev of sseEvents(get.body)) {
      if (!ev.data) continue;
      const msg = JSON.parse(ev.data);
      if (msg.id === 'resume-1') return msg;
    }
    return null;
  })(), 15000, 'replayed tool result').finally(() => ac2.abort());
  assert.ok(result, 'the resumed stream delivered the tool result');
  assert.deepEqual(result.result.content, [{ type: 'text', text: RECONNECTED_TEXT }]);
});

test('terminateSession ends the session: the old id then gets 404', async () => {
  const sid = transport.sessionId;
  const pv = transport.protocolVersion;
  await transport.terminateSession();
  const r = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': pv },
    body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
  });
  assert.equal(r.status, 404);
  await r.body?.cancel().catch(() => {});
});

test('mcpd stops cleanly on SIGTERM with no sanitizer report', async () => {
  await client.close();
  await server.stop();
});
