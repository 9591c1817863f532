// panva's oidc-provider, unmodified, as an upstream OpenID provider that idp
// signs people in with (server/upstream_real_test.go, issue #18). It is a
// certified OpenID provider nobody here wrote, so idp's federation is tested
// against somebody else's reading of the specs.
//
// Environment:
//   PORT      port on 127.0.0.1 (default 0: any free one); the issuer is
//             http://127.0.0.1:PORT
//   CLIENTS   JSON list of confidential clients:
//             [{"client_id", "client_secret", "redirect_uris": [...]}]
//   ACCOUNTS  JSON object: login name -> {email, email_verified, name, groups}
//
// The built-in development pages (devInteractions) sign people in: the
// login form takes a login name, which becomes the account id (sub), and
// any password; a consent page follows. When the provider listens it
// prints one line, "oidc-provider ready ISSUER", on stdout.
//
// Refresh (the refresh checks of docs/federation.md): the clients may use
// the refresh_token grant, so the provider issues a refresh token when
// offline_access is granted (asked with prompt=consent, OIDC Core §11; the
// consent page grants every scope asked), and rotates it at each use. Its
// revocation endpoint (RFC 7009) is on. Two test-only routes, outside the
// provider, let a test act as the upstream's people or admins:
//   GET  /test/state?sub=S    {"refresh_grants": refresh_token grants
//                             answered with tokens, "refresh_tokens": the
//                             live refresh tokens issued for account S}
//   POST /test/disable?sub=S  the account is gone: findAccount finds no S,
//                             so its refresh tokens are refused
//                             (invalid_grant)
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const json = (name, fallback) => {
  const v = process.env[name];
  if (!v) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set`);
  }
  return JSON.parse(v);
};
const clients = json('CLIENTS').map((c) => ({
  ...c,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
}));
const accounts = json('ACCOUNTS', {});
const disabled = new Set();
// Refresh tokens by account id (their values; the adapter is in memory),
// and how many refresh_token grants were answered.
const refreshTokens = new Map();
let refreshGrants = 0;

// A fresh signing key per run (not the library's fixed development key),
// so no test can pass on a key it happens to know.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

// Listen first, so the issuer can carry the port the system chose; the
// handler is filled in once the Provider exists.
let handler = (_req, res) => { res.statusCode = 503; res.end('starting'); };
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // RFC 7636: PKCE for every client, confidential ones too (the library
  // asks it of public clients only by default); idp always sends S256.
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // idp reads the claims from the ID token (it does not call UserInfo), so
  // the scope-requested claims go into the ID token of the code flow too.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  // Strict rotation (RFC 9700 §4.14.2): each refresh token works once, so
  // idp must keep the one each refresh returns.
  rotateRefreshToken: true,
  async findAccount(_ctx, id) {
    const a = accounts[id];
    if (!a || disabled.has(id)) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: a.email, email_verified: a.email_verified, name: a.name, groups: a.groups };
      },
    };
  },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
provider.on('refresh_token.saved', (token) => {
  if (!refreshTokens.has(token.accountId)) refreshTokens.set(token.accountId, new Set());
  refreshTokens.get(token.accountId).add(token.jti);
});
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') refreshGrants++;
});
const callback = provider.callback();
handler = async (req, res) => {
  const u = new URL(req.url, issuer);
  if (!u.pathname.startsWith('/test/')) return callback(req, res);
  const sub = u.searchParams.get('sub') || '';
  res.setHeader('Content-Type', 'application/json');
  if (req.method === 'GET' && u.pathname === '/test/state') {
    const live = [];
    for (const jti of refreshTokens.get(sub) || []) {
      const t = await provider.RefreshToken.find(jti);
      if (t?.isValid) live.push(jti);
    }
    res.end(JSON.stringify({ refresh_grants: refreshGrants, refresh_tokens: live }));
  } else if (req.method === 'POST' && u.pathname === '/test/disable' && accounts[sub]) {
    disabled.add(sub);
    res.end('{}');
  } else {
    res.statusCode = 404;
    res.end('{}');
  }
};

// The test reads this line to know the provider is up.
console.log(`oidc-provider ready ${issuer}`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
