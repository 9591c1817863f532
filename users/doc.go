// Package users owns the people who sign in to idp: the User record (email,
// name, roles, disabled flag), argon2id password hashing in the PHC string
// format, and the Service that creates accounts and authenticates them.
//
// Authenticate costs the same for an unknown email as for a known one, so
// response time does not reveal which addresses have accounts. Hashes made
// with older cost parameters are upgraded on the next successful sign-in.
//
// Store is the only database access; it lives in store.go, the one file of
// the package that may import GORM. The package imports db and nothing else
// from the project: no server, Echo, cookies or sessions. Ending the sessions
// of a disabled user is the caller's job.
package users
