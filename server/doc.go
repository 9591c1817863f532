// Package server is idp's HTTP face: the Echo application, one file per
// endpoint or page, the single error handler and the middleware. It is the
// only package that imports Echo; it reaches storage only through the domain
// packages (users, clients, keys, ...), never through GORM.
package server
