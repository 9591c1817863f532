// Package admin holds every administrative action of idp — users, clients,
// signing keys, the audit log — as plain Go methods that take the acting
// person, return typed views and typed errors, and audit what they change
// in one place. The CLI (cmd/idp), the admin web pages and the admin API
// are thin adapters over it and print or serve its views, so the three
// interfaces cannot drift apart.
//
// It imports the domain packages (users, clients, sessions, tokens, keys,
// audit) and db for its error sentinels; never server or Echo.
package admin
