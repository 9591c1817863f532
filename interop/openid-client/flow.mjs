// A relying party built on panva's openid-client, run against an in-process
// idp by server/interop_test.go. It signs a user in with the code flow and
// PKCE (driving idp's sign-in form over HTTP), verifies the ID token, calls
// UserInfo, refreshes, and uses client_credentials, introspection and
// revocation. Any failure throws, and the process exits non-zero.
import * as client from 'openid-client';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const issuer = new URL(env('IDP_ISSUER'));
const insecure = { execute: [client.allowInsecureRequests] }; // the test server is http on 127.0.0.1

const web = await client.discovery(issuer, env('WEB_CLIENT_ID'), env('WEB_CLIENT_SECRET'), undefined, insecure);
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState(), nonce = client.randomNonce();
const authURL = client.buildAuthorizationUrl(web, {
  redirect_uri: env('WEB_REDIRECT_URI'), scope: 'openid email profile offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
});

// A minimal browser: a cookie jar and manual redirects.
const cookies = new Map();
async function go(url, opts = {}) {
  const headers = { ...(opts.headers || {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  const r = await fetch(url, { redirect: 'manual', ...opts, headers });
  for (const c of r.headers.getSetCookie()) {
    const kv = c.split(';')[0], i = kv.indexOf('=');
    cookies.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return r;
}
let r = await go(authURL.href);
r = await go(new URL(r.headers.get('location'), authURL).href);
const html = await r.text();
const field = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
r = await go(new URL('/login', issuer).href, {
  method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ csrf_token: field('csrf_token'), req: field('req'), email: env('EMAIL'), password: env('PASSWORD') }),
});
const callback = new URL(r.headers.get('location'));

const tokens = await client.authorizationCodeGrant(web, callback, {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
});
const claims = tokens.claims();
if (claims.email !== env('EMAIL') || !tokens.refresh_token) throw new Error('ID token or refresh token missing');
const info = await client.fetchUserInfo(web, tokens.access_token, claims.sub);
if (info.email !== env('EMAIL')) throw new Error('userinfo email mismatch');
const refreshed = await client.refreshTokenGrant(web, tokens.refresh_token);
if (refreshed.refresh_token === tokens.refresh_token || refreshed.claims().sub !== claims.sub) throw new Error('refresh did not rotate');

const m2m = await client.discovery(issuer, env('CC_CLIENT_ID'), env('CC_CLIENT_SECRET'), undefined, insecure);
const cc = await client.clientCredentialsGrant(m2m, { scope: 'api' });
if (!(await client.tokenIntrospection(m2m, cc.access_token)).active) throw new Error('fresh token inactive');
await client.tokenRevocation(m2m, cc.access_token);
if ((await client.tokenIntrospection(m2m, cc.access_token)).active) throw new Error('revoked token active');

console.log(`openid-client ok: sub ${claims.sub}, refresh rotated, client_credentials revoked`);
