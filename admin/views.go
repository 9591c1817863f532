package admin

import (
	"encoding/json"
	"time"

	"idp/audit"
	"idp/clients"
	"idp/keys"
	"idp/users"
)

// Time is a moment in the admin views: UTC to the second, written in JSON
// as RFC 3339 ("2026-12-03T07:00:00Z"), the form scripts and people read.
type Time struct{ time.Time }

// MarshalJSON writes t as RFC 3339 UTC seconds.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// String is t as RFC 3339 UTC seconds.
func (t Time) String() string { return t.UTC().Format(TimeFormat) }

// TimeFormat is how the views write times.
const TimeFormat = "2006-01-02T15:04:05Z"

// at converts an optional time.
func at(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	return &Time{*t}
}

// User is a user as admins see it: never the password hash.
type User struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
	Created  Time     `json:"created_at"`
	// EmailVerified is the stored state email_verified claims follow.
	EmailVerified bool `json:"email_verified"`
	// Factors names the second factors set up: "passkey", "totp",
	// "recovery" (never a secret).
	Factors []string `json:"factors"`
	// Locked says, in user lists, that failed sign-ins throttle the
	// account now (an admin may unlock it).
	Locked bool `json:"locked,omitempty"`
}

func userView(u *users.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, Roles: nonNil(u.Roles), Disabled: u.Disabled,
		Created: Time{u.CreatedAt}, EmailVerified: u.EmailVerified, Factors: []string{}}
}

// Client is a client as admins see it: never the secret hash.
type Client struct {
	ID                     string   `json:"client_id"`
	Name                   string   `json:"name"`
	Public                 bool     `json:"public"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	SigningAlg             string   `json:"signing_alg"`
	Trusted                bool     `json:"trusted"`
	RequireMFA             bool     `json:"require_mfa"`
	RequireVerifiedEmail   bool     `json:"require_verified_email"`
	// RFC 7591 §2 metadata, by the RFC's names.
	LogoURI                 string          `json:"logo_uri"`
	ClientURI               string          `json:"client_uri"`
	PolicyURI               string          `json:"policy_uri"`
	TOSURI                  string          `json:"tos_uri"`
	Contacts                []string        `json:"contacts"`
	ApplicationType         string          `json:"application_type"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	DefaultMaxAge           int             `json:"default_max_age"`
	RequireAuthTime         bool            `json:"require_auth_time"`
	RequirePAR              bool            `json:"require_pushed_authorization_requests"`
	JWKSURI                 string          `json:"jwks_uri"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	// Back- and front-channel logout, by the specs' names.
	BackchannelLogoutURI              string `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired  bool   `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired bool   `json:"frontchannel_logout_session_required"`
	// DefaultResource is the aud of tokens whose request names no
	// resource ("" the client id).
	DefaultResource string `json:"default_resource"`
	// Registration is how the client came: "" an admin registered it,
	// "token" or "open" through the registration endpoint (RFC 7591).
	Registration string `json:"registration"`
	Created      Time   `json:"created_at"`
	Updated      Time   `json:"updated_at"`
}

// rawJSON is s as JSON, or nothing when empty.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func clientView(c *clients.Client) Client {
	return Client{ID: c.ID, Name: c.Name, Public: c.Public, RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), GrantTypes: nonNil(c.GrantTypes),
		Scopes: nonNil(c.Scopes), SigningAlg: c.SigningAlg, Trusted: c.Trusted, RequireMFA: c.RequireMFA,
		RequireVerifiedEmail: c.RequireVerifiedEmail, LogoURI: c.LogoURI, ClientURI: c.ClientURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI,
		Contacts: nonNil(c.Contacts), ApplicationType: c.ApplicationType, TokenEndpointAuthMethod: c.AuthMethod(),
		DefaultMaxAge: c.DefaultMaxAge, RequireAuthTime: c.RequireAuthTime, Registration: c.Registration,
		JWKSURI: c.JWKSURI, JWKS: rawJSON(c.JWKS), DefaultResource: c.DefaultResource, RequirePAR: c.RequirePAR,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI, FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,
		Created: Time{c.CreatedAt}, Updated: Time{c.UpdatedAt}}
}

// Key is a signing key: when it may sign and, once retired, when it
// leaves the JWKS.
type Key struct {
	KID         string `json:"kid"`
	Alg         string `json:"alg"`
	State       string `json:"state"`
	Created     Time   `json:"created_at"`
	SignsFrom   *Time  `json:"signs_from,omitempty"`
	Activated   *Time  `json:"activated_at,omitempty"`
	Retired     *Time  `json:"retired_at,omitempty"`
	SignedUntil *Time  `json:"signed_until,omitempty"`
	NotAfter    *Time  `json:"not_after,omitempty"`
	HasPrivate  bool   `json:"has_private"`
}

func keyView(k keys.Key) Key {
	return Key{k.KID, k.Alg, k.State, Time{k.CreatedAt}, at(k.SignsFrom), at(k.ActivatedAt), at(k.RetiredAt),
		at(k.SignedUntil), at(k.NotAfter), k.HasPrivate}
}

// Rotation is what a rotation changed.
type Rotation struct {
	Retired   *Key `json:"retired,omitempty"`
	Activated Key  `json:"activated"`
	Next      Key  `json:"next"`
}

// Keys is the key list with the serving policies the schedule follows.
type Keys struct {
	Keys     []Key         `json:"keys"`
	Policies []keys.Policy `json:"policies"`
	// Warning says when running servers disagree; empty when they agree.
	Warning string `json:"warning,omitempty"`
}

// Event is one audit record.
type Event struct {
	At     time.Time `json:"at"` // UTC, RFC 3339 with fractions: events page by it
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Via    string    `json:"via"`
	IP     string    `json:"ip"`
	Detail string    `json:"detail"`
}

func eventView(e audit.Event) Event {
	return Event{e.At.UTC(), e.Actor, e.Action, e.Target, e.Via, e.IP, e.Detail}
}

// nonNil makes an absent list an empty one in JSON.
func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
