// Package server is idp's HTTP face: New builds the one Echo application
// from Config and Deps, and routes.go is the one place that lists every
// route. The handlers live in sub-packages split by audience:
//
//   - protocol: the OAuth 2.0 and OpenID Connect endpoints;
//   - pages: the end-user HTML pages (sign-in, consent, account);
//   - adminhttp: the admin web pages and the admin API;
//   - plumbing: the middleware, the single error handler, cookies, CSRF
//     and the rest they share.
//
// The pages and the protocol side meet only through a pending
// authorization request's id: New hands protocol's handlers to the pages
// as their Authorizer. Only packages under server (and
// verifier/echoverifier) import Echo; storage is reached only through the
// domain packages (users, clients, keys, ...), never through GORM.
package server
