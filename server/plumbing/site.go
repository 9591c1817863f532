package plumbing

import (
	"context"
	"log/slog"
	"time"

	"idp/audit"
	"idp/clients"
	"idp/mfa"
	"idp/resources"
	"idp/sessions"
	"idp/templates"
	"idp/tokens"
	"idp/users"
)

// Site is what the handlers of one provider share: its issuer, clock,
// logger and CSRF key, and the domain services that say who is signed in,
// what a request names and what is written to the audit log. The root
// server builds one and hands it to every sub-package.
type Site struct {
	// Issuer is the exact iss of every token, without a trailing slash.
	Issuer string
	// Secure is whether the issuer is https: cookies are then Secure and
	// carry the __Host- prefix, and responses carry HSTS.
	Secure bool
	// CSRFKey keys the HMAC that binds form tokens to the browser's CSRF
	// cookie; replicas must share it.
	CSRFKey []byte
	// Clock is the provider's clock; tests control it.
	Clock func() time.Time
	// Log receives request and error logs.
	Log *slog.Logger

	// Templates renders every page, the error page included.
	Templates *templates.Set
	// Audit records who did what.
	Audit *audit.Log
	// Users, Sessions, Clients and Tokens answer who is signed in, what
	// a bearer token says and which authorization request a page names.
	Users    *users.Service
	Sessions *sessions.Service
	Clients  *clients.Service
	Tokens   *tokens.Service
	// Resources are the APIs tokens are issued for; they authenticate at
	// the introspection endpoint.
	Resources *resources.Service
	// MFA holds the users' second factors.
	MFA *mfa.Service
	// MFARequiredRoles are the roles whose sessions need a second factor
	// for any authorization and for the admin side.
	MFARequiredRoles []string
	// FrontChannel lists the front-channel logout URIs to load when a
	// session ends (nil: none); see frontchannel.go.
	FrontChannel func(ctx context.Context, sid string) ([]string, error)
}

// LevelNeeded is the assurance an authorization of client for user
// needs: what acr_values ask, at least a second factor when the client
// or one of the user's roles demands one.
func (s *Site) LevelNeeded(client *clients.Client, user *users.User, acrValues []string) mfa.Level {
	demand := client != nil && client.RequireMFA
	if user != nil && mfa.RoleDemands(s.MFARequiredRoles, user.Roles) {
		demand = true
	}
	need := mfa.Required(acrValues, demand)
	if need > mfa.LevelMFA && !s.MFA.PasskeysEnabled() {
		// Only a passkey is phishing-resistant, and passkeys cannot work
		// under this issuer: acr_values is a voluntary request (OIDC Core
		// §5.5.1.1), so the sign-in goes as far as it can and its acr says
		// how far that was.
		need = mfa.LevelMFA
	}
	return need
}

// Now returns the provider's clock in UTC.
func (s *Site) Now() time.Time { return s.Clock().UTC() }

// URL returns the absolute URL of a path under the issuer.
func (s *Site) URL(path string) string { return s.Issuer + path }
