// Package templates owns idp's server-rendered pages: the sign-in, consent,
// error, signed-out, sign-out confirmation and account pages, the admin
// pages (keys, users, clients, audit log and a confirmation form), plus the
// one stylesheet they share.
//
// The HTML lives in embedded *.html files (a shared "base" layout, an
// "adminbase" layout for the admin pages and one file per page) and
// static/style.css. Handlers render a page through a typed method such as
// (*Set).Login with a typed struct such as LoginPage; there is no
// stringly-typed renderer. Every method renders into a buffer
// first, so a template error becomes a clean 500 instead of half a page.
//
// The pages are built for a strict Content-Security-Policy
// (default-src 'none'; style-src 'self'): they contain no JavaScript, no
// inline <style> and no style attributes, and every page links
// /static/style.css, which the server serves from (*Set).Static.
//
// This package imports only the standard library and nothing from the
// project (STYLE.md §1.1): it must not import server, Echo or any domain
// package. Page data arrives already formatted as strings.
package templates
