// Package app is idp's one wiring: it turns a validated Config into the
// running parts — the database, the domain services over it, the signing-key
// manager, the HTTP server and the background loops (key schedule, purge) —
// and closes them with one Close. `idp serve`, every admin command,
// server/servertest and the cluster tests all build through it, so tests
// run on the wiring production uses and nothing else constructs services.
//
// It may import every domain package and server; nothing imports app but
// cmd/idp and the test harnesses.
package app
