// Package pages is the end-user side of the server: the sign-in and
// consent pages, the account page (sessions, offline grants, sign out
// everywhere) and the stylesheet they share.
//
// It must not import protocol (nor adminhttp). When sign-in or consent is
// done and a pending authorization request must go on, a page hands the
// request's id to an Authorizer, the interface declared here that package
// server wires to the protocol endpoints: the zitadel/oidc way, where the
// sign-in UI and the protocol engine share only that id. Shared HTTP
// plumbing comes from plumbing; storage only through the domain packages.
package pages
