// Package logout tells relying parties that an SSO session has ended:
// OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0.
//
// It owns three things:
//   - the session_clients table, which clients obtained tokens in which
//     session (the sid of their ID tokens), written when a code is redeemed
//     (the tokens package's OnSessionGrant hook);
//   - the logout_deliveries queue: when sessions end (the sessions
//     package's OnEnd hook, inside the transaction that ends them) one row
//     per (session, client with a backchannel_logout_uri) is inserted, and
//     any replica delivers it with retries and backoff, one sender per row
//     (a lease claimed by a conditional update, as the mail outbox does);
//   - the logout token (§2.4), built and signed when it is sent, never
//     stored.
//
// Front-channel logout is only a lookup here (FrontChannel): the server
// renders the iframes on its signed-out page.
//
// It imports db, clients, sessions and audit; it never imports server.
package logout
