// Package db opens idp's database (SQLite by default, PostgreSQL for
// scale-out), applies the embedded migrations with goose, carries
// transactions through context.Context and maps driver errors to the two
// sentinels the domain packages understand: ErrNotFound and ErrConflict.
//
// Only this package, db/dbtest and the store.go file of each domain package
// may import GORM. It imports migrations and nothing else from the project.
package db
