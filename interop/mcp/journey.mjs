// The official MCP TypeScript SDK's client, unmodified, meets an MCP server
// that idp protects (examples/mcpserver), knowing only the server's URL:
// it is refused with 401, reads the server's RFC 9728 metadata, idp's
// RFC 8414 metadata, registers itself (RFC 7591), sends the user to idp's
// sign-in page (which this script fills, as a person would, then allows on
// the consent page), redeems the code with PKCE and a resource indicator,
// and calls a tool with the access token. Driven by
// examples/mcpserver/journey_test.go.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const { MCP_URL, EMAIL, PASSWORD, REDIRECT_URI } = process.env;

// An in-memory OAuthClientProvider: the SDK asks it for what it stored.
class Provider {
  constructor() { this.info = undefined; this.toks = undefined; this.verifier = ''; this.authURL = undefined; }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return { client_name: 'MCP journey', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid' };
  }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() { return this.toks; }
  saveTokens(t) { this.toks = t; }
  redirectToAuthorization(url) { this.authURL = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

// signIn plays the browser: it follows the authorization URL to idp's
// sign-in page, signs in, allows on the consent page and returns the code
// from the redirect to REDIRECT_URI.
async function signIn(start) {
  const jar = new Map();
  const go = async (u, init = {}) => {
    const headers = { ...(init.headers || {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    const r = await fetch(u, { ...init, headers, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const kv = c.split(';')[0];
      const i = kv.indexOf('=');
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return r;
  };
  const field = (html, name) => {
    const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
    if (!m) throw new Error(`no ${name} on the page:\n${html.slice(0, 600)}`);
    return m[1].replaceAll('&#43;', '+').replaceAll('&amp;', '&');
  };
  const post = (u, form) => go(u, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form) });
  let r = await go(start);
  let loc = new URL(r.headers.get('location'), start);
  if (!loc.pathname.startsWith('/login')) throw new Error(`authorization went to ${loc}`);
  let html = await (await go(loc)).text();
  r = await post(new URL('/login', start), { csrf_token: field(html, 'csrf_token'), req: field(html, 'req'), email: EMAIL, password: PASSWORD });
  loc = new URL(r.headers.get('location'), start);
  if (loc.pathname === '/consent') {
    html = await (await go(loc)).text();
    if (!html.includes('MCP journey')) throw new Error('the consent page does not name the client');
    r = await post(new URL('/consent', start), { csrf_token: field(html, 'csrf_token'), req: field(html, 'req'), decision: 'allow' });
    loc = new URL(r.headers.get('location'), start);
  }
  if (!loc.href.startsWith(REDIRECT_URI)) throw new Error(`sign-in ended at ${loc}`);
  const code = loc.searchParams.get('code');
  if (!code) throw new Error(`no code: ${loc}`);
  return code;
}

const provider = new Provider();
let transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
try {
  await new Client({ name: 'mcp-journey', version: '1.0.0' }).connect(transport);
  throw new Error('connected without authorization');
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
if (!provider.authURL) throw new Error('the SDK did not start an authorization');
const authURL = new URL(provider.authURL);
const code = await signIn(authURL);
await transport.finishAuth(code);

transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
const client = new Client({ name: 'mcp-journey', version: '1.0.0' });
await client.connect(transport);
const tools = await client.listTools();
const result = await client.callTool({ name: 'whoami', arguments: {} });
await client.close();
console.log(JSON.stringify({
  ok: true,
  client_id: provider.info?.client_id,
  resource: authURL.searchParams.get('resource'),
  code_challenge_method: authURL.searchParams.get('code_challenge_method'),
  tools: tools.tools.map((t) => t.name),
  whoami: result.content?.[0]?.text,
  access_token: provider.toks?.access_token,
}));
