// Package plumbing is the HTTP plumbing every audience of the server
// shares: the middleware chain (request id, access log, recover, security
// headers, body limit, CORS), the one HTTPErrorHandler that turns errors
// into pages or RFC 6749 JSON, page rendering, cookies and CSRF, the
// signed-in browser and the bearer token of a request, audit actors,
// metrics, per-client rate limits, the trusted-proxy address rule, the
// health endpoints and the path of every route.
//
// It imports Echo and the domain packages (users, clients, sessions,
// tokens, keys, templates, audit), never a sibling: protocol, pages and
// adminhttp all build on it, so it must know none of them. It reaches
// storage only through the domain packages, never through GORM.
package plumbing
