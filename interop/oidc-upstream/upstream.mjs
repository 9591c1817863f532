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
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));
const accounts = json('ACCOUNTS', {});

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
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // idp reads the claims from the ID token (it does not call UserInfo), so
  // the scope-requested claims go into the ID token of the code flow too.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const a = accounts[id];
    if (!a) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: a.email, email_verified: a.email_verified, name: a.name, groups: a.groups };
      },
    };
  },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
handler = provider.callback();

// The test reads this line to know the provider is up.
console.log(`oidc-provider ready ${issuer}`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
