// HTTP-level and registration bounds (docs/reliability.md, "Limits"): a POST to /mcp without a
// valid token is answered 401 on its head, before its body is read; MAX_CONNECTIONS_PER_CLIENT
// closes one address's extra connections while another address (127.0.0.2) still gets in;
// /register refuses a document past MAX_REGISTRATION_BYTES with 413 before reading it, and past
// MAX_CLIENTS live registrations with 503 temporarily_unavailable.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { INIT, login, mcpPost, startOAuthServers } from './lib/oauth.mjs';

const PER_CLIENT = 4;
const MAX_CLIENTS = 3;
const REG_BYTES = 2048;
const STEP_MS = 5000; // every wait below is bounded by this

let servers;

before(async () => {
  servers = await startOAuthServers({ name: 'limits',
    args: ['--max-connections-per-client', String(PER_CLIENT)],
    authArgs: ['--max-clients', String(MAX_CLIENTS), '--max-registration-bytes', String(REG_BYTES)] });
});

after(async () => { await servers?.stop(); });

/** Connect (from localAddress), write head, and collect what arrives until EOF or ms pass. */
function raw(port, head, { localAddress = '127.0.0.1', ms = STEP_MS } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    let data = '';
    let eof = false;
    const done = () => { clearTimeout(timer); sock.destroy(); resolve({ data, eof }); };
    const timer = setTimeout(done, ms);
    sock.on('connect', () => { if (head) sock.write(head); });
    sock.on('data', (d) => {
      data += d.toString('latin1');
      // A complete answer with Content-Length is enough: the test need not wait for the close.
      const m = /Content-Length: (\d+)\r\n/i.exec(data);
      const end = data.indexOf('\r\n\r\n');
      if (m && end >= 0 && data.length >= end + 4 + Number(m[1])) done();
    });
    sock.on('end', () => { eof = true; done(); });
    sock.on('error', () => { eof = true; done(); });
  });
}

/** Open a connection and keep it until release(); resolves once it is connected. */
function hold(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(sock));
    sock.on('error', reject);
  });
}

test('POST /mcp without a token is refused on its head: 401 before any of a 4 MB body', async () => {
  const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${servers.port}\r\nContent-Type: application/json\r\n` +
    'Accept: application/json, text/event-stream\r\nContent-Length: 4000000\r\n\r\n';
  const t0 = Date.now();
  const r = await raw(servers.port, head);
  assert.match(r.data, /^HTTP\/1\.1 401 /);
  assert.match(r.data, /\r\nWWW-Authenticate: Bearer resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp", scope="mcp"\r\n/);
  assert.match(r.data, /\r\nConnection: close\r\n/);
  assert.match(r.data, /"error":"invalid_token"/);
  assert.ok(Date.now() - t0 < STEP_MS, 'answered without waiting for the body');
});

test('Expect: 100-continue without a token gets the 401 and no 100 Continue', async () => {
  const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${servers.port}\r\nContent-Type: application/json\r\n` +
    'Expect: 100-continue\r\nContent-Length: 20\r\n\r\n';
  const r = await raw(servers.port, head);
  assert.match(r.data, /^HTTP\/1\.1 401 /);
  assert.doesNotMatch(r.data, /100 Continue/);
});

test('with a valid token the body is read and served as before', async () => {
  const { tokens } = await login(servers.asOrigin);
  const token = tokens.access_token;
  const res = await mcpPost(servers.mcpUrl, token, INIT);
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('mcp-session-id'));
});

test('MAX_CONNECTIONS_PER_CLIENT closes extra connections of one address, not of another', async () => {
  const held = [];
  try {
    for (let i = 0; i < PER_CLIENT; i++) held.push(await hold(servers.port));
    const extra = await raw(servers.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    assert.equal(extra.data, '', 'closed without an answer');
    assert.ok(extra.eof);
    const other = await raw(servers.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, { localAddress: '127.0.0.2' });
    assert.match(other.data, /^HTTP\/1\.1 200 /);
  } finally {
    for (const s of held) s.destroy();
  }
  // Once they are gone the address gets in again (the server sees the closes asynchronously).
  const deadline = Date.now() + STEP_MS;
  let again;
  do {
    again = await raw(servers.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  } while (!/^HTTP\/1\.1 200 /.test(again.data) && Date.now() < deadline);
  assert.match(again.data, /^HTTP\/1\.1 200 /);
});

test('/register: a document past MAX_REGISTRATION_BYTES gets 413 on its head', async () => {
  const head = `POST /register HTTP/1.1\r\nHost: 127.0.0.1:${servers.authPort}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${REG_BYTES + 1}\r\n\r\n`;
  const r = await raw(servers.authPort, head);
  assert.match(r.data, /^HTTP\/1\.1 413 /);
  assert.match(r.data, /"error":"invalid_client_metadata"/);
  // Just under the bound is read and validated as usual.
  const body = JSON.stringify({ redirect_uris: ['http://127.0.0.1:53682/callback'], client_name: 'x'.repeat(REG_BYTES - 100) });
  assert.ok(body.length <= REG_BYTES);
  const ok = await fetch(`${servers.asOrigin}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  assert.equal(ok.status, 400); // client_name is longer than a string field may be
  assert.equal((await ok.json()).error, 'invalid_client_metadata');
});

test('MAX_CLIENTS: registrations past the bound get 503 temporarily_unavailable', async () => {
  // The login above registered one client; fill up to the bound.
  let refused = null;
  for (let i = 0; i < MAX_CLIENTS + 1 && !refused; i++) {
    const res = await fetch(`${servers.asOrigin}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:53682/callback'] }) });
    if (res.status !== 201) refused = res;
  }
  assert.ok(refused, 'a registration was refused');
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '3600');
  assert.equal((await refused.json()).error, 'temporarily_unavailable');
});
