// The official TypeScript SDK v2 client (@modelcontextprotocol/client 2.3.1) against the reference
// pack: pinned to the stateless 2026-07-28 revision, in its 'auto' mode (probe with server/discover,
// stay modern), and the v1 SDK (@modelcontextprotocol/sdk, initialize + session) on the same server
// at the same time. The pinned client also holds a resource subscription through
// subscriptions/listen (the reference timers at --timer-scale-percent 2: an update every 200 ms).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { startServer } from './lib/server.mjs';

let srv;

before(async () => {
  srv = await startServer({ name: 'sdk-v2', features: 'reference', extraArgs: ['--timer-scale-percent', '2'] });
});

after(async () => {
  await srv?.stop();
});

async function connectV2(mode) {
  const client = new ClientV2({ name: 'mcpd-sdk-v2-test', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode } });
  await client.connect(new TransportV2(new URL(srv.url)));
  return client;
}

async function exercise(client) {
  const tools = await client.listTools();
  assert.deepEqual(tools.tools.map((t) => t.name).slice(0, 3), ['echo', 'add', 'longRunningOperation']);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'stateless' } });
  assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: stateless' }]);
  const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  assert.equal(sum.content[0].text, 'The sum of 2 and 40 is 42.');
  const page = await client.listResources(); // v2 walks every page (cursors MTA= ... OTA=)
  assert.equal(page.resources.length, 100);
  assert.equal(page.nextCursor, undefined);
  const read = await client.readResource({ uri: page.resources[0].uri });
  assert.equal(read.contents[0].uri, page.resources[0].uri);
  const prompts = await client.listPrompts();
  assert.deepEqual(prompts.prompts.map((p) => p.name), ['simple_prompt', 'complex_prompt', 'resource_prompt']);
  const prompt = await client.getPrompt({ name: 'simple_prompt' });
  assert.equal(prompt.messages[0].content.text, 'This is a simple prompt without arguments.');
}

describe('SDK v2 client on 2026-07-28', () => {
  test('pinned: discover, tools, echo, resources, prompts; no session', async () => {
    const client = await connectV2({ pin: '2026-07-28' });
    try {
      assert.equal(client.getProtocolEra(), 'modern');
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.deepEqual(client.getServerVersion(), { name: 'example-servers/feature-reference', version: '1.0.0' });
      await exercise(client);
    } finally {
      await client.close();
    }
  });

  test('auto: the probe finds the modern era', async () => {
    const client = await connectV2('auto');
    try {
      assert.equal(client.getProtocolEra(), 'modern');
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      await exercise(client);
    } finally {
      await client.close();
    }
  });

  test('listen: a resource subscription through subscriptions/listen receives notifications/resources/updated', async () => {
    const client = await connectV2({ pin: '2026-07-28' });
    const uri = 'test://static/resource/2';
    const updates = [];
    let enough;
    const twoUpdates = new Promise((resolve) => { enough = resolve; });
    client.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
      if (updates.length >= 2) enough();
    });
    try {
      const sub = await client.listen({ resourceSubscriptions: [uri], toolsListChanged: true });
      // The reference pack has no listChanged capability: only the subscription is honoured.
      assert.deepEqual(sub.honoredFilter, { resourceSubscriptions: [uri] });
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`updates so far: ${updates}`)), 5000));
      await Promise.race([twoUpdates, timeout]);
      assert.deepEqual(new Set(updates), new Set([uri]));
      await sub.close();
      assert.equal(await sub.closed, 'local');
    } finally {
      await client.close();
    }
  });

  test('the v1 SDK with a session beside a v2 client in auto mode, interleaved', async () => {
    const v1 = new ClientV1({ name: 'mcpd-sdk-v1-test', version: '1.0.0' }, { capabilities: {} });
    const transport = new TransportV1(new URL(srv.url));
    await v1.connect(transport);
    const v2 = await connectV2('auto');
    try {
      assert.equal(v2.getProtocolEra(), 'modern');
      assert.match(transport.sessionId, /^[0-9a-f-]{36}$/);
      const [a, b] = await Promise.all([
        v1.callTool({ name: 'echo', arguments: { message: 'v1' } }),
        v2.callTool({ name: 'echo', arguments: { message: 'v2' } }),
      ]);
      assert.equal(a.content[0].text, 'Echo: v1');
      assert.equal(b.content[0].text, 'Echo: v2');
      await exercise(v2);
      assert.deepEqual(await v1.ping(), {});
    } finally {
      await v2.close();
      await transport.terminateSession();
      await v1.close();
    }
  });
});
