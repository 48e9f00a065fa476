#!/usr/bin/env node
// An MCP client for mcpd built on the official TypeScript SDK (v1), the way an application
// connects to a protected MCP server: it connects, gets 401, discovers the authorization server
// from the 401's resource metadata, registers itself, runs the PKCE authorization code flow and
// connects again with its token. Then it lists the tools, calls echo, reads a resource and gets a
// prompt.
//
// A real application would open the browser at the consent page. This one is headless: its
// provider reads the consent page, follows its "Allow" link the way a browser would (the link's
// state= is the pending authorization), answers the mock identity provider as the user USER_ID
// and reads the code from the redirect. Against another authorization server, replace
// redirectToAuthorization with opening a browser.
//
//   node examples/client.mjs [MCP URL]        (default http://localhost:3232/mcp, `make run`)
//
// Environment: MCP_URL (the same as the argument), USER_ID (default "demo user"). Without
// authorization (`mcpd mcp --no-auth`) the first connect simply succeeds. Exit status 0 when
// every step worked.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

// The SDK from wherever node finds it (npm install @modelcontextprotocol/sdk next to this file),
// else from this checkout's test clients (scripts/deps.sh installs it there).
async function sdk(path) {
  try {
    return await import(`@modelcontextprotocol/sdk/${path}`);
  } catch {
    const req = createRequire(new URL('../tests/integration/package.json', import.meta.url));
    return import(req.resolve(`@modelcontextprotocol/sdk/${path}`));
  }
}
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { UnauthorizedError } = await sdk('client/auth.js');

const url = new URL(process.argv[2] ?? process.env.MCP_URL ?? 'http://localhost:3232/mcp');
const userId = process.env.USER_ID ?? 'demo user';
// Where the authorization server sends the browser back. Nothing listens here: the headless
// provider reads the code from the redirect's Location header instead.
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';

// An OAuthClientProvider (the SDK's interface) keeping everything in memory.
class HeadlessProvider {
  constructor() {
    this.client = undefined;
    this.savedTokens = undefined;
    this.verifier = undefined;
    this.code = undefined;
  }

  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return { client_name: 'mcpd example client', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  state() { return randomUUID(); }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.savedTokens; }
  saveTokens(tokens) { this.savedTokens = tokens; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }

  // A browser would show the consent page; the user clicks Allow, then signs in at the
  // identity provider, which redirects to REDIRECT_URI?code=...&state=...
  async redirectToAuthorization(authorizationUrl) {
    const consent = await fetch(authorizationUrl, { redirect: 'manual' });
    const page = await consent.text();
    if (consent.status !== 200) throw new Error(`consent page: ${consent.status} ${page.slice(0, 200)}`);
    const allow = /href="([^"]*mock-upstream-idp\/authorize[^"]*)"/.exec(page);
    if (!allow) throw new Error('no Allow link on the consent page');
    const idpPage = new URL(allow[1].replaceAll('&amp;', '&'), authorizationUrl);
    // The identity provider's form: its action, the pending authorization and the user's name.
    const callback = new URL(idpPage.searchParams.get('redirect_uri'), authorizationUrl);
    callback.searchParams.set('state', idpPage.searchParams.get('state'));
    callback.searchParams.set('code', 'mock-auth-code');
    callback.searchParams.set('userId', userId);
    const back = await fetch(callback, { redirect: 'manual' });
    await back.arrayBuffer();
    const location = back.headers.get('location');
    if (back.status !== 302 || !location) throw new Error(`identity provider: ${back.status}`);
    const redirect = new URL(location);
    if (redirect.searchParams.get('state') !== authorizationUrl.searchParams.get('state')) throw new Error('state mismatch');
    this.code = redirect.searchParams.get('code');
    console.log(`authorized as "${userId}" (code received)`);
  }
}

const provider = new HeadlessProvider();

async function connect() {
  const client = new Client({ name: 'mcpd-example-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    console.log('401: authorization required; discovered the authorization server and logged in');
    await transport.finishAuth(provider.code); // code + PKCE verifier -> tokens
    const again = new Client({ name: 'mcpd-example-client', version: '1.0.0' });
    await again.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    return again;
  }
}

const client = await connect();
const server = client.getServerVersion();
console.log(`connected to ${server.name} ${server.version} at ${url.href}`);

const { tools } = await client.listTools();
console.log(`tools (${tools.length}): ${tools.map((t) => t.name).join(', ')}`);

const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello from the example' } });
console.log(`echo: ${echo.content[0].text}`);

const { resources } = await client.listResources();
const first = await client.readResource({ uri: resources[0].uri });
console.log(`resource ${resources[0].uri}: ${first.contents[0].text ?? `(${first.contents[0].mimeType})`}`);

const prompt = await client.getPrompt({ name: 'simple_prompt' });
console.log(`prompt simple_prompt: ${prompt.messages[0].content.text}`);

await client.close();
console.log('done');
