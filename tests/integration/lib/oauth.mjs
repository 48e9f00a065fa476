// OAuth helpers for the integration tests: start mcpd's authorization server and MCP role (one
// `mcpd all` or two separate processes sharing INTROSPECTION_SECRET), run the login flow by hand
// (register → PKCE → /authorize page → mock IdP callback → /token) with plain fetch, and a headless
// OAuthClientProvider for the official SDK (reference-spec §4, §9.5; conformance.md §4.3).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';

import { freePort, spawnMcpd } from './server.mjs';

export const REDIRECT_URI = 'http://127.0.0.1:53682/callback'; // never listened on
export const TOOL_NAMES = ['echo', 'add', 'longRunningOperation', 'sampleLLM', 'getTinyImage', 'annotatedMessage', 'getResourceReference'];
export const MCP_ACCEPT = 'application/json, text/event-stream';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start the authorization server and the MCP role on free loopback ports, with BASE_URI and
 * AUTH_SERVER_URL on 127.0.0.1 (so the SDK's PRM resource check matches the URL it connects to).
 * Options: mode 'all' (one process, default) or 'split' (`mcpd auth` + `mcpd mcp`), args (both
 * roles), authArgs, mcpArgs, name. Resolves to { mcpOrigin, mcpUrl, asOrigin, port, authPort,
 * procs, stop() }.
 */
export async function startOAuthServers(opts = {}) {
  const port = opts.port ?? (await freePort());
  const authPort = opts.authPort ?? (await freePort());
  const mcpOrigin = `http://127.0.0.1:${port}`;
  const asOrigin = `http://127.0.0.1:${authPort}`;
  const common = ['--port', String(port), '--auth-port', String(authPort), '--base-uri', mcpOrigin,
    '--auth-server-url', asOrigin, '--features', 'reference', ...(opts.args ?? [])];
  const name = opts.name ?? 'oauth';
  const procs = [];
  async function stop() {
    const errors = [];
    for (const p of [...procs].reverse()) await p.stop().catch((e) => errors.push(e));
    if (errors.length) throw errors[0];
  }
  try {
    if ((opts.mode ?? 'all') === 'all') {
      procs.push(await spawnMcpd({ name: `${name}-all`, args: ['all', ...common, ...(opts.authArgs ?? []), ...(opts.mcpArgs ?? [])],
        waitPorts: [authPort, port] }));
    } else {
      const env = { INTROSPECTION_SECRET: randomBytes(24).toString('hex') };
      procs.push(await spawnMcpd({ name: `${name}-auth`, args: ['auth', ...common, ...(opts.authArgs ?? [])], waitPorts: [authPort], env }));
      procs.push(await spawnMcpd({ name: `${name}-mcp`, args: ['mcp', ...common, ...(opts.mcpArgs ?? [])], waitPorts: [port], env }));
    }
    // The MCP role is degraded until it has fetched the AS metadata once: wait for healthy.
    await waitFor(async () => (await (await fetch(`${mcpOrigin}/health`)).json()).status === 'healthy', 15000, 'MCP role healthy');
  } catch (e) {
    // Whatever started must not outlive the failed start, and its own unclean stop (a crash
    // may be why the start failed) is reported with the start error, not instead of it.
    await stop().catch((stopErr) => { throw new AggregateError([e, stopErr], `${e.message}; and stopping: ${stopErr.message}`); });
    throw e;
  }
  return { mcpOrigin, mcpUrl: `${mcpOrigin}/mcp`, asOrigin, port, authPort, procs, stop };
}

/** Poll fn() until it returns truthy (errors count as false); throw after ms. */
export async function waitFor(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(50);
  }
}

// --------------------------------------------------------------------- the flow by hand ----

export function pkce() {
  const verifier = randomBytes(32).toString('base64url'); // 43 characters
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** Parse a response body as JSON; null when it is not JSON. */
async function body(res) {
  const text = await res.text();
  try {
    return { text, json: JSON.parse(text) };
  } catch {
    return { text, json: null };
  }
}

/** POST /register (RFC 7591). Resolves to the registration (client_id, client_secret?). */
export async function register(as, extra = {}) {
  const res = await fetch(`${as}/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: 'oauth-test', redirect_uris: [REDIRECT_URI], ...extra }),
  });
  const b = await body(res);
  assert.equal(res.status, 201, `/register: ${res.status} ${b.text}`);
  return b.json;
}

/** GET /authorize; resolves to { res, text, json, code } with code = the first state= in the page. */
export async function authorize(as, client, { challenge, state = 'st-' + randomUUID(), resource, method = 'S256', redirectUri = REDIRECT_URI, scope } = {}) {
  const u = new URL('/authorize', as);
  const q = { response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge,
    code_challenge_method: method, state, resource, scope };
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) u.searchParams.set(k, v); // null: leave out
  const res = await fetch(u, { redirect: 'manual' });
  const b = await body(res);
  const m = /state=([^"&]*)/.exec(b.text);
  return { res, ...b, state, code: res.status === 200 && m ? m[1] : null };
}

/** GET /mock-upstream-idp/callback (no redirect following). */
export function idpCallback(as, code, userId) {
  const u = new URL('/mock-upstream-idp/callback', as);
  u.searchParams.set('state', code);
  u.searchParams.set('code', 'mock-auth-code');
  if (userId !== undefined) u.searchParams.set('userId', userId);
  return fetch(u, { redirect: 'manual' });
}

/** POST form to the AS; resolves to { status, json, text, res }. */
export async function postForm(as, path, params) {
  const res = await fetch(`${as}${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined)).toString(),
  });
  return { res, status: res.status, ...(await body(res)) };
}

export function clientAuth(client) {
  return { client_id: client.client_id, client_secret: client.client_secret };
}

/**
 * The whole login for one user: register (unless a client is given), PKCE, /authorize, mock IdP
 * callback, /token. issuer: the AUTH_SERVER_URL the redirect's iss must name, when `as` is not it
 * (an instance behind a balancer). Resolves to { client, tokens, code, verifier }.
 */
export async function login(as, { user = 'user-' + randomUUID(), resource, client, issuer = as } = {}) {
  client ??= await register(as);
  const { verifier, challenge } = pkce();
  const a = await authorize(as, client, { challenge, resource });
  assert.equal(a.res.status, 200, `/authorize: ${a.res.status} ${a.text}`);
  assert.match(a.code ?? '', /^[0-9a-f]{64}$/, 'the first state= in the consent page is the code');
  const cb = await idpCallback(as, a.code, user);
  assert.equal(cb.status, 302, 'mock IdP callback redirects');
  const back = new URL(cb.headers.get('location'));
  assert.equal(back.searchParams.get('state'), a.state);
  assert.equal(back.searchParams.get('code'), a.code);
  assert.equal(back.searchParams.get('iss'), issuer, 'RFC 9207: iss is the issuer, AUTH_SERVER_URL as configured');
  const t = await postForm(as, '/token', { grant_type: 'authorization_code', ...clientAuth(client), code: a.code,
    redirect_uri: REDIRECT_URI, code_verifier: verifier, resource });
  assert.equal(t.status, 200, `/token: ${t.status} ${t.text}`);
  assert.match(t.json.access_token, /^\S{32,}$/);
  return { client, tokens: t.json, code: a.code, verifier, user };
}

// ------------------------------------------------------------------ raw MCP over fetch ----

export function bearer(token) {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

/** POST /mcp with a JSON-RPC body; resolves to { status, headers, text, json, sessionId }. */
export async function mcpPost(url, token, message, extraHeaders = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Accept: MCP_ACCEPT, 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-06-18', ...bearer(token), ...extraHeaders },
    body: JSON.stringify(message),
  });
  const b = await body(res);
  let json = b.json;
  if (!json) { // SSE answer: the data: line
    const line = b.text.split('\n').find((l) => l.startsWith('data: '));
    if (line) json = JSON.parse(line.slice(6));
  }
  return { status: res.status, headers: res.headers, text: b.text, json, sessionId: res.headers.get('mcp-session-id') };
}

export const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'oauth-test', version: '1.0' } } };

/** initialize + notifications/initialized; resolves to the session id. */
export async function openSession(url, token) {
  const r = await mcpPost(url, token, INIT);
  assert.equal(r.status, 200, `initialize: ${r.status} ${r.text}`);
  assert.ok(r.sessionId, 'initialize returns Mcp-Session-Id');
  const n = await mcpPost(url, token, { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'Mcp-Session-Id': r.sessionId });
  assert.equal(n.status, 202);
  return r.sessionId;
}

// --------------------------------------------------------------- SDK: headless provider ----

/**
 * An OAuthClientProvider with no browser: redirectToAuthorization fetches mcpd's consent page,
 * takes the code from its first `state=`, calls the mock IdP callback as `userId` and reads the
 * code from the Location header (checking the client's state came back).
 */
export class HeadlessProvider {
  constructor({ userId = 'sdk-user-' + randomUUID(), fetchFn = fetch, authMethod = 'none' } = {}) {
    this.userId = userId;
    this.fetchFn = fetchFn;
    this.authMethod = authMethod;
    this.code = undefined;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.savedTokens = []; // every token set saved, oldest first
    this.authorizationUrls = [];
  }

  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return { client_name: 'mcpd-headless-sdk', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: this.authMethod };
  }
  state() { return 'sdk-' + randomUUID(); }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; this.savedTokens.push(t); }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }

  async redirectToAuthorization(url) {
    this.authorizationUrls.push(new URL(url));
    const page = await this.fetchFn(url, { redirect: 'manual' });
    const html = await page.text();
    if (page.status !== 200) throw new Error(`/authorize answered ${page.status}: ${html.slice(0, 300)}`);
    const m = /state=([^"&]*)/.exec(html);
    if (!m) throw new Error('no state= in the consent page');
    const cb = new URL('/mock-upstream-idp/callback', url);
    cb.searchParams.set('state', m[1]);
    cb.searchParams.set('code', 'mock-auth-code');
    cb.searchParams.set('userId', this.userId);
    const r = await this.fetchFn(cb, { redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status !== 302) throw new Error(`mock IdP callback answered ${r.status}`);
    const back = new URL(r.headers.get('location'));
    if (back.origin + back.pathname !== REDIRECT_URI) throw new Error(`redirected to ${back.origin}${back.pathname}`);
    if (back.searchParams.get('state') !== url.searchParams.get('state')) throw new Error('state mismatch');
    this.code = back.searchParams.get('code');
  }
}

// --------------------------------------------------------------------- wire recording ----

/**
 * A fetch that records { method, origin, path, params (names only), rpc, status } of every call
 * into `records`. Nothing secret is kept: no query values, headers or bodies.
 */
export function recordingFetch(records) {
  return async (input, init = {}) => {
    const req = input instanceof Request ? input : null;
    const url = new URL(req ? req.url : String(input));
    const method = init.method ?? req?.method ?? 'GET';
    let rpc = '';
    if (typeof init.body === 'string') {
      try {
        const m = JSON.parse(init.body);
        rpc = Array.isArray(m) ? 'batch' : (m.method ?? (m.result !== undefined ? 'result' : ''));
      } catch { /* form body */
        const g = new URLSearchParams(init.body).get('grant_type');
        if (g) rpc = `grant_type=${g}`;
      }
    } else if (init.body instanceof URLSearchParams) {
      const g = init.body.get('grant_type');
      if (g) rpc = `grant_type=${g}`;
    }
    const res = await fetch(input, init);
    records.push({ method, origin: url.origin, path: url.pathname, params: [...url.searchParams.keys()], rpc, status: res.status });
    return res;
  };
}

/** One line per request: "POST MCP /mcp (initialize) -> 200". */
export function formatWire(records, names) {
  return records.map((r) => {
    const who = names[r.origin] ?? r.origin;
    const q = r.params.length ? `?${r.params.join('&')}` : '';
    return `${r.method.padEnd(6)} ${who} ${r.path}${q}${r.rpc ? ` (${r.rpc})` : ''} -> ${r.status}`;
  });
}
