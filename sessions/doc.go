// Package sessions owns server-side SSO sessions: a random secret handed to
// the browser (the server puts it in a cookie; this package knows nothing
// of cookies), stored only as a SHA-256 hash, with the user's auth_time, an
// absolute expiry, and what the account page shows (IP, user agent, last
// seen). It imports db only.
package sessions
