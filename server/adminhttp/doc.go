// Package adminhttp is the administrators' side of the server: the admin
// web pages under /admin (keys with their timeline and a rotate button;
// users searched and paged, with a page per user for their profile,
// status, sessions, grants and second factors; clients; resources;
// upstreams (the providers people may sign in with); the audit log
// with its filters and JSON lines export), guarded by a signed-in admin's
// session and CSRF, destructive actions behind a confirmation page; and
// the JSON admin API under /api/admin, guarded by a bearer access token
// with role admin and scope idp:admin. Every change goes through
// admin.Service, which audits it.
//
// It builds on plumbing and the domain packages and must import neither
// protocol nor pages: administering the provider needs no protocol
// endpoint and no end-user page. Package server's routes.go mounts it.
package adminhttp
