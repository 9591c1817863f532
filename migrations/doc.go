// Package migrations embeds idp's versioned SQL schema, one folder per SQL
// dialect (sqlite/, postgres/) with the same goose version numbers in each.
// The SQL here is the schema: GORM's AutoMigrate is never used.
//
// It imports nothing from the project.
package migrations
