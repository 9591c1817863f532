// A panva/node-oidc-provider 9 configured as close to idp as it goes, for
// bench/side-by-side.sh only: never a deployment.
//
//   BENCH_ISSUER=http://127.0.0.1:18081 BENCH_CLIENTS=clients.json node server.js
//
// What matches idp (see docs/PERFORMANCE.md, "Side by side with
// node-oidc-provider 9"):
//   - one RS256 signing key of 2048 bits, generated at start-up;
//   - JWT access tokens in the RFC 9068 format (typ at+jwt), signed per
//     client_credentials grant and per refresh, through a resource server
//     (resource indicators) with a default resource, so no request has to
//     name it;
//   - confidential clients with client_secret_basic: the client_credentials
//     client and the refresh client, whose ID tokens are RS256 too;
//   - refresh tokens rotated on every use; a reused one revokes the grant;
//   - lifetimes: access and ID tokens 10 min, refresh tokens 14 days.
// What does not: the default in-memory adapter (idp writes every refresh to
// SQLite or PostgreSQL), no access log (idp writes one JSON line per token
// request), one Node.js process (its in-memory state cannot be shared).
//
// POST /bench/refresh-token, with the refresh client's Basic credentials,
// mints a grant and a refresh token through the provider's own models, as a
// code exchange would have, so the benchmark needs no interaction UI. It is
// used only to set up; the measured requests are refresh_token grants on
// the token endpoint.
import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const issuer = process.env.BENCH_ISSUER ?? 'http://127.0.0.1:18081';
const { port, hostname } = new URL(issuer);
// clients.json: {"cc": {"id", "secret"}, "web": {"id", "secret"}}, written by
// the script so the secrets never appear on a command line.
const creds = JSON.parse(readFileSync(process.env.BENCH_CLIENTS, 'utf8'));
const resource = 'https://api.bench.invalid';
const scopeAPI = 'api:read';

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
jwk.kid = randomUUID();
jwk.alg = 'RS256';
jwk.use = 'sig';

// One user, as idp's bench user: the claims of the profile and email scopes.
const account = {
  accountId: randomUUID(),
  async claims() {
    return { sub: this.accountId, email: 'bench@example.com', email_verified: true, name: 'Bench' };
  },
};

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clients: [
    {
      client_id: creds.cc.id,
      client_secret: creds.cc.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: scopeAPI,
    },
    {
      client_id: creds.web.id,
      client_secret: creds.web.secret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:1/cb'],
      id_token_signed_response_alg: 'RS256',
      scope: `openid profile email offline_access ${scopeAPI}`,
    },
  ],
  scopes: ['openid', 'offline_access', scopeAPI],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // idp puts the scope claims into the ID token too.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => (id === account.accountId ? account : undefined),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new Error('unknown resource');
        return { scope: scopeAPI, accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 600,
    ClientCredentials: 600,
    IdToken: 600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
  },
});

// basicMatches reports whether an Authorization header carries id:secret
// (RFC 6749 §2.3.1: both form-urlencoded).
function basicMatches(header, id, secret) {
  const [scheme, value] = (header ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return false;
  const decoded = Buffer.from(value, 'base64').toString();
  const i = decoded.indexOf(':');
  if (i < 0) return false;
  const want = Buffer.from(`${id}:${secret}`);
  const got = Buffer.from(`${decodeURIComponent(decoded.slice(0, i))}:${decodeURIComponent(decoded.slice(i + 1))}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

// mintRefreshToken records what a code exchange for the web client with
// scope "openid profile email offline_access api:read" would have left: a
// grant and a refresh token bound to it and to the resource server.
async function mintRefreshToken() {
  const client = await provider.Client.find(creds.web.id);
  const grant = new provider.Grant({ accountId: account.accountId, clientId: client.clientId });
  grant.addOIDCScope('openid profile email offline_access');
  grant.addResourceScope(resource, scopeAPI);
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({
    accountId: account.accountId,
    authTime: Math.floor(Date.now() / 1000),
    client,
    expiresWithSession: false,
    grantId,
    gty: 'authorization_code',
    resource,
    rotations: 0,
    scope: `openid profile email offline_access ${scopeAPI}`,
  });
  return rt.save();
}

provider.use(async (ctx, next) => {
  if (ctx.path !== '/bench/refresh-token') return next();
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return undefined;
  }
  if (!basicMatches(ctx.get('authorization'), creds.web.id, creds.web.secret)) {
    ctx.status = 401;
    return undefined;
  }
  ctx.set('cache-control', 'no-store');
  ctx.body = { refresh_token: await mintRefreshToken() };
  return undefined;
});

const server = createServer(provider.callback());
// The same keep-alive behaviour as the load generator expects of idp.
server.keepAliveTimeout = 90_000;
server.listen(Number(port), hostname, () => {
  console.log(`node-oidc-provider listening on ${issuer} (pid ${process.pid})`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
