// mcpd's reference feature pack against the MCP Inspector CLI (2.12.0, `inspector --cli`, see
// shared/spec/conformance.md §3) over Streamable HTTP (--transport http, /mcp) and legacy HTTP+SSE
// (--transport sse, /sse). Each Inspector run is one whole client session: connect, initialize,
// one method, disconnect. The exit code must be 0 and the --format json output exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';

import { ROOT, startServer } from './lib/server.mjs';

const INSPECTOR = path.join(ROOT, 'tests/integration/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const RUN_TIMEOUT_MS = 30000;

const TOOL_NAMES = ['echo', 'add', 'longRunningOperation', 'sampleLLM', 'getTinyImage', 'annotatedMessage', 'getResourceReference'];

let server;

before(async () => {
  server = await startServer({ name: 'inspector', features: 'reference' });
});

after(async () => {
  await server?.stop(); // an unclean stop fails the run even if the stop test never ran
});

/** Run the Inspector CLI; resolves to { code, stdout, stderr, json } (json: parsed stdout or null). */
function inspector(url, transport, ...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [INSPECTOR, '--cli', url, '--transport', transport, '--format', 'json', ...args],
      { timeout: RUN_TIMEOUT_MS, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        let json = null;
        try { json = JSON.parse(stdout); } catch { /* not JSON: the assertion shows stdout */ }
        resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr, json });
      });
  });
}
function assertOk(r) {
  assert.equal(r.code, 0, `exit code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(r.json, `stdout is not JSON: ${r.stdout}`);
}

for (const transport of ['http', 'sse']) {
  describe(`Inspector CLI --transport ${transport}`, () => {
    const url = () => (transport === 'http' ? server.url : `${server.origin}/sse`);

    test('tools/list: the 7 reference tools (the Inspector declares no elicitation)', async () => {
      const r = await inspector(url(), transport, '--method', 'tools/list');
      assertOk(r);
      assert.deepEqual(r.json.result.tools.map((t) => t.name), TOOL_NAMES);
      assert.deepEqual(r.json.result.tools[0], {
        name: 'echo', description: 'Echoes back the input',
        inputSchema: {
          type: 'object', properties: { message: { type: 'string', description: 'Message to echo' } }, required: ['message'],
          additionalProperties: false, $schema: 'http://json-schema.org/draft-07/schema#',
        },
      });
    });

    test('tools/call echo', async () => {
      const r = await inspector(url(), transport, '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=Inspector works');
      assertOk(r);
      assert.deepEqual(r.json, { result: { content: [{ type: 'text', text: 'Echo: Inspector works' }] } });
    });

    test('tools/call add 0.1 + 0.2 (JSON arguments)', async () => {
      const r = await inspector(url(), transport, '--method', 'tools/call', '--tool-name', 'add', '--tool-args-json', '{"a":0.1,"b":0.2}');
      assertOk(r);
      assert.deepEqual(r.json, { result: { content: [{ type: 'text', text: 'The sum of 0.1 and 0.2 is 0.30000000000000004.' }] } });
    });

    test('resources/read of an odd (text) resource', async () => {
      const r = await inspector(url(), transport, '--method', 'resources/read', '--uri', 'test://static/resource/5');
      assertOk(r);
      // The Inspector prints contents through the SDK's schema, which drops the peer's extra `name`.
      assert.deepEqual(r.json, { result: { contents: [{ uri: 'test://static/resource/5', mimeType: 'text/plain', text: 'Resource 5: This is a plaintext resource' }] } });
    });

    test('prompts/get simple_prompt', async () => {
      const r = await inspector(url(), transport, '--method', 'prompts/get', '--prompt-name', 'simple_prompt');
      assertOk(r);
      assert.deepEqual(r.json, { result: { messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt without arguments.' } }] } });
    });

    // The Inspector looks the tool up in tools/list before calling, so this is its own verdict
    // on mcpd's list, not mcpd's -32602 (reference.test.mjs checks that one).
    test('tools/call of an unknown tool exits 5 with tool_not_found', async () => {
      const r = await inspector(url(), transport, '--method', 'tools/call', '--tool-name', 'no_such_tool');
      assert.equal(r.code, 5, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.deepEqual(JSON.parse(r.stderr), { error: { code: 'tool_not_found', message: "Tool 'no_such_tool' not found on server." } });
    });
  });
}

test('mcpd stops cleanly on SIGTERM with no sanitizer report', async () => {
  await server.stop();
});
