// Package upstreams owns federation (issue #18): the upstream OpenID
// providers a person may sign in with instead of a password, the links
// from an upstream account (upstream id, upstream sub) to one idp user,
// and the sign-in itself as seen from idp's side as a relying party:
// discovery, the authorization request (code flow with PKCE S256, state
// and nonce, OIDC Core §3.1.2), the code exchange and the ID token check
// (through package verifier), then the account rules (link by verified
// email, just-in-time creation, allowed domains, claim mapping), and
// the check at each idp refresh of tokens signed in through an upstream
// (refresh.go: ask the upstream again, re-apply those rules).
//
// It knows nothing about HTTP servers or cookies: server/pages carries
// the browser through it. It imports db, users, oauth and verifier, and
// only store.go imports GORM.
package upstreams
