// Multi round-trip requests (2026-07-28): the official SDK v2 client (@modelcontextprotocol/client
// 2.3.1) pinned to the stateless revision runs the reference pack's sampleLLM and elicitInputs,
// which ask the client through input_required results; its multi-round-trip driver answers them
// with its own sampling/elicitation handlers and retries. Then, in raw HTTP against the
// conformance pack, what a hand-made client can do to requestState: a retry on another instance
// with the same REQUEST_STATE_SECRET completes, a tampered state or one of another instance's key
// is refused with -32602, and an undeclared capability is -32021.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { ROOT, startServer } from './lib/server.mjs';

const SECRET = 'mrtr-test-secret-0123456789abcdef0123';
const PV = '2026-07-28';

let ref;
let confA;
let confB;
let confOther;

before(async () => {
  ref = await startServer({ name: 'mrtr-ref', features: 'reference' });
  // REQUEST_STATE_SECRET is environment only: each mcpd inherits this process's environment.
  const saved = process.env.REQUEST_STATE_SECRET;
  try {
    process.env.REQUEST_STATE_SECRET = SECRET;
    confA = await startServer({ name: 'mrtr-a', features: 'conformance' });
    confB = await startServer({ name: 'mrtr-b', features: 'conformance' });
    process.env.REQUEST_STATE_SECRET = 'another-secret-of-at-least-32-characters';
    confOther = await startServer({ name: 'mrtr-other', features: 'conformance' });
  } finally {
    if (saved === undefined) delete process.env.REQUEST_STATE_SECRET;
    else process.env.REQUEST_STATE_SECRET = saved;
  }
});

after(async () => {
  await Promise.all([ref, confA, confB, confOther].map((s) => s?.stop()));
});

describe('SDK v2 client: the reference tools that ask the client', () => {
  let client;
  const asked = [];

  before(async () => {
    client = new Client({ name: 'mcpd-mrtr-test', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: { form: {} } }, versionNegotiation: { mode: { pin: PV } } });
    client.setRequestHandler('sampling/createMessage', async (req) => {
      asked.push(req.method ?? 'sampling/createMessage');
      return { role: 'assistant', content: { type: 'text', text: 'Paris, of course' }, model: 'test-model', stopReason: 'endTurn' };
    });
    client.setRequestHandler('elicitation/create', async (req) => {
      asked.push(req.method ?? 'elicitation/create');
      return { action: 'accept', content: { name: 'Ada Lovelace' } };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(ref.url)));
  });

  after(async () => {
    await client?.close();
  });

  test('sampleLLM: one input_required round, answered by the client handler', async () => {
    assert.equal(client.getNegotiatedProtocolVersion(), PV);
    const r = await client.callTool({ name: 'sampleLLM', arguments: { prompt: 'Capital of France?' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'LLM sampling result: Paris, of course' }]);
    assert.ok(asked.length >= 1);
  });

  test('elicitInputs: the accepted form comes back in the result', async () => {
    const r = await client.callTool({ name: 'elicitInputs', arguments: {} });
    assert.match(r.content[0].text, /^Elicitation result: /);
    assert.match(r.content[0].text, /"action": "accept"/);
    assert.match(r.content[0].text, /Ada Lovelace/);
  });
});

// A raw 2026-07-28 tools/call; returns the parsed JSON-RPC response and the HTTP status.
let nextId = 1;
async function rawCall(server, name, extra = {}, caps = { sampling: {}, elicitation: {}, roots: {} }) {
  const body = {
    jsonrpc: '2.0', id: nextId++, method: 'tools/call',
    params: {
      name, arguments: {}, ...extra,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': PV,
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': caps,
      },
    },
  };
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PV, 'mcp-method': 'tools/call', 'mcp-name': name,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? JSON.parse(text)
    : JSON.parse(text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).pop());
  return { status: res.status, json };
}

describe('requestState across instances (raw HTTP)', () => {
  const TOOL = 'test_input_required_result_multi_round';
  const accept = (content) => ({ action: 'accept', content });

  test('a flow started on one instance finishes on another sharing the secret', async () => {
    const r1 = await rawCall(confA, TOOL);
    assert.equal(r1.json.result.resultType, 'input_required');
    assert.ok(r1.json.result.inputRequests.step1);
    const r2 = await rawCall(confB, TOOL, {
      inputResponses: { step1: accept({ name: 'Alice' }) }, requestState: r1.json.result.requestState,
    });
    assert.equal(r2.json.result.resultType, 'input_required');
    assert.ok(r2.json.result.inputRequests.step2);
    const r3 = await rawCall(confA, TOOL, {
      inputResponses: { step2: accept({ color: 'blue' }) }, requestState: r2.json.result.requestState,
    });
    assert.equal(r3.json.result.content[0].text, 'name=Alice, color=blue');
  });

  test('a state from an instance with another secret is refused', async () => {
    const r1 = await rawCall(confA, TOOL);
    const r2 = await rawCall(confOther, TOOL, {
      inputResponses: { step1: accept({ name: 'Alice' }) }, requestState: r1.json.result.requestState,
    });
    assert.equal(r2.json.error.code, -32602);
    assert.equal(r2.json.error.data.reason, 'tampered');
  });

  test('a tampered state is refused', async () => {
    const r1 = await rawCall(confA, TOOL);
    const s = r1.json.result.requestState;
    const r2 = await rawCall(confA, TOOL, {
      inputResponses: { step1: accept({ name: 'Alice' }) }, requestState: `${s.slice(0, 12)}x${s.slice(13)}`,
    });
    assert.equal(r2.json.error.code, -32602);
  });

  test('an undeclared capability is -32021 with requiredCapabilities', async () => {
    const r = await rawCall(confA, 'test_input_required_result_elicitation', {}, { sampling: {} });
    assert.equal(r.json.error.code, -32021);
    assert.deepEqual(r.json.error.data, { requiredCapabilities: { elicitation: {} } });
  });
});

test('a REQUEST_STATE_SECRET shorter than 32 characters stops mcpd at start (exit 2)', () => {
  const bin = path.resolve(ROOT, process.env.MCPD_BIN ?? 'build/mcpd');
  const r = spawnSync(bin, ['mcp', '--no-auth', '--port', '0'], {
    env: { ...process.env, REQUEST_STATE_SECRET: 'too-short' }, encoding: 'utf8', timeout: 10000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /REQUEST_STATE_SECRET must be at least 32 characters/);
});
