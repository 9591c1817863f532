package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"idp/clients"
)

// Clients lists every client.
func (s *Service) Clients(ctx context.Context) ([]Client, error) {
	list, err := s.clients.Store().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out := make([]Client, 0, len(list))
	for i := range list {
		out = append(out, clientView(&list[i]))
	}
	return out, nil
}

// CreateClient registers a client and returns it with its generated secret
// (empty for public clients and when spec.Secret was given): shown once,
// never stored. A taken id is ErrConflict; metadata that breaks a rule is
// *InvalidError listing every problem.
func (s *Service) CreateClient(ctx context.Context, actor Actor, spec clients.Spec) (Client, string, error) {
	ctx = as(ctx, actor)
	if err := s.checkDefaultResource(ctx, spec.DefaultResource); err != nil {
		return Client{}, "", err
	}
	c, secret, err := s.clients.Create(ctx, spec)
	switch {
	case errors.Is(err, clients.ErrClientExists):
		return Client{}, "", tagged{ErrConflict, err}
	case errors.Is(err, clients.ErrInvalidSpec):
		return Client{}, "", &InvalidError{Reason: err.Error()}
	case err != nil:
		return Client{}, "", fmt.Errorf("create client: %w", err)
	}
	s.record(ctx, "client.created", c.ID, "")
	return clientView(c), secret, nil
}

// DeleteClient removes a client; an unknown id is ErrNotFound.
func (s *Service) DeleteClient(ctx context.Context, actor Actor, id string) error {
	ctx = as(ctx, actor)
	if err := s.clients.Store().Delete(ctx, id); err != nil {
		return fmt.Errorf("delete client %s: %w", id, mapErr(err))
	}
	s.record(ctx, "client.deleted", id, "")
	return nil
}

// ClientUpdate is a change to a client: every field that is not nil
// replaces the client's value (an empty list or string clears it). The
// JSON names are the client view's, so what GET returns can be sent back.
type ClientUpdate struct {
	Name                    *string          `json:"name,omitempty"`
	RedirectURIs            *[]string        `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  *[]string        `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes              *[]string        `json:"grant_types,omitempty"`
	Scopes                  *[]string        `json:"scopes,omitempty"`
	SigningAlg              *string          `json:"signing_alg,omitempty"`
	Trusted                 *bool            `json:"trusted,omitempty"`
	RequireMFA              *bool            `json:"require_mfa,omitempty"`
	RequireVerifiedEmail    *bool            `json:"require_verified_email,omitempty"`
	LogoURI                 *string          `json:"logo_uri,omitempty"`
	ClientURI               *string          `json:"client_uri,omitempty"`
	PolicyURI               *string          `json:"policy_uri,omitempty"`
	TOSURI                  *string          `json:"tos_uri,omitempty"`
	Contacts                *[]string        `json:"contacts,omitempty"`
	ApplicationType         *string          `json:"application_type,omitempty"`
	TokenEndpointAuthMethod *string          `json:"token_endpoint_auth_method,omitempty"`
	DefaultMaxAge           *int             `json:"default_max_age,omitempty"`
	RequireAuthTime         *bool            `json:"require_auth_time,omitempty"`
	RequirePAR              *bool            `json:"require_pushed_authorization_requests,omitempty"`
	JWKSURI                 *string          `json:"jwks_uri,omitempty"`
	JWKS                    *json.RawMessage `json:"jwks,omitempty"`
	// Back- and front-channel logout (OIDC Back-Channel Logout 1.0 §2.2,
	// Front-Channel Logout 1.0 §2).
	BackchannelLogoutURI              *string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired  *bool   `json:"backchannel_logout_session_required,omitempty"`
	FrontchannelLogoutURI             *string `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired *bool   `json:"frontchannel_logout_session_required,omitempty"`
	DefaultResource                   *string `json:"default_resource,omitempty"`
}

// apply writes the set fields into spec and returns their JSON names.
func (u ClientUpdate) apply(spec *clients.Spec) []string {
	var changed []string
	str := func(name string, dst *string, v *string) {
		if v != nil {
			*dst, changed = *v, append(changed, name)
		}
	}
	list := func(name string, dst *[]string, v *[]string) {
		if v != nil {
			*dst, changed = nonEmpty(*v), append(changed, name)
		}
	}
	flag := func(name string, dst *bool, v *bool) {
		if v != nil {
			*dst, changed = *v, append(changed, name)
		}
	}
	str("name", &spec.Name, u.Name)
	list("redirect_uris", &spec.RedirectURIs, u.RedirectURIs)
	list("post_logout_redirect_uris", &spec.PostLogoutRedirectURIs, u.PostLogoutRedirectURIs)
	list("grant_types", &spec.GrantTypes, u.GrantTypes)
	list("scopes", &spec.Scopes, u.Scopes)
	str("signing_alg", &spec.SigningAlg, u.SigningAlg)
	flag("trusted", &spec.Trusted, u.Trusted)
	flag("require_mfa", &spec.RequireMFA, u.RequireMFA)
	flag("require_verified_email", &spec.RequireVerifiedEmail, u.RequireVerifiedEmail)
	str("logo_uri", &spec.LogoURI, u.LogoURI)
	str("client_uri", &spec.ClientURI, u.ClientURI)
	str("policy_uri", &spec.PolicyURI, u.PolicyURI)
	str("tos_uri", &spec.TOSURI, u.TOSURI)
	list("contacts", &spec.Contacts, u.Contacts)
	str("application_type", &spec.ApplicationType, u.ApplicationType)
	str("token_endpoint_auth_method", &spec.TokenEndpointAuthMethod, u.TokenEndpointAuthMethod)
	if u.DefaultMaxAge != nil {
		spec.DefaultMaxAge, changed = *u.DefaultMaxAge, append(changed, "default_max_age")
	}
	flag("require_auth_time", &spec.RequireAuthTime, u.RequireAuthTime)
	flag("require_pushed_authorization_requests", &spec.RequirePAR, u.RequirePAR)
	str("jwks_uri", &spec.JWKSURI, u.JWKSURI)
	str("backchannel_logout_uri", &spec.BackchannelLogoutURI, u.BackchannelLogoutURI)
	flag("backchannel_logout_session_required", &spec.BackchannelLogoutSessionRequired, u.BackchannelLogoutSessionRequired)
	str("frontchannel_logout_uri", &spec.FrontchannelLogoutURI, u.FrontchannelLogoutURI)
	flag("frontchannel_logout_session_required", &spec.FrontchannelLogoutSessionRequired, u.FrontchannelLogoutSessionRequired)
	str("default_resource", &spec.DefaultResource, u.DefaultResource)
	if u.JWKS != nil {
		spec.JWKS, changed = string(*u.JWKS), append(changed, "jwks")
		if string(*u.JWKS) == "null" {
			spec.JWKS = ""
		}
	}
	return changed
}

// nonEmpty drops empty strings, so ["" ] (a flag given an empty value)
// clears a list.
func nonEmpty(l []string) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// UpdateClient changes a client's registration, checked as a new one is;
// its secret and kind (public or confidential) stay. An unknown id is
// ErrNotFound, a change that breaks a rule *InvalidError listing every
// problem (and nothing is written), an empty change *InvalidError too.
func (s *Service) UpdateClient(ctx context.Context, actor Actor, id string, up ClientUpdate) (Client, error) {
	ctx = as(ctx, actor)
	c, err := s.clients.Store().ByID(ctx, id)
	if err != nil {
		return Client{}, fmt.Errorf("client %s: %w", id, mapErr(err))
	}
	spec := clients.SpecOf(c)
	changed := up.apply(&spec)
	if len(changed) == 0 {
		return Client{}, &InvalidError{Reason: "nothing to change"}
	}
	if up.DefaultResource != nil {
		if err := s.checkDefaultResource(ctx, spec.DefaultResource); err != nil {
			return Client{}, err
		}
	}
	updated, err := s.clients.Update(ctx, spec)
	switch {
	case errors.Is(err, clients.ErrInvalidSpec):
		return Client{}, &InvalidError{Reason: err.Error()}
	case err != nil:
		return Client{}, fmt.Errorf("update client: %w", mapErr(err))
	}
	s.record(ctx, "client.updated", id, "changed="+strings.Join(changed, ","))
	return clientView(updated), nil
}

// RegenerateClientSecret gives a confidential client a new secret,
// returned once; the old one stops working at once. A public client is
// *InvalidError, an unknown id ErrNotFound.
func (s *Service) RegenerateClientSecret(ctx context.Context, actor Actor, id string) (string, error) {
	ctx = as(ctx, actor)
	secret, err := s.clients.RegenerateSecret(ctx, id)
	switch {
	case errors.Is(err, clients.ErrInvalidSpec):
		reason := err.Error()
		if i := strings.LastIndex(reason, ": "); i >= 0 {
			reason = reason[i+2:]
		}
		return "", &InvalidError{Reason: reason}
	case err != nil:
		return "", fmt.Errorf("regenerate secret: %w", mapErr(err))
	}
	s.record(ctx, "client.secret_regenerated", id, "")
	return secret, nil
}

// RegistrationToken is an initial access token as admins see it: never
// the token.
type RegistrationToken struct {
	ID       string `json:"id"`
	Created  Time   `json:"created_at"`
	Expires  Time   `json:"expires_at"`
	UsesLeft int    `json:"uses_left"`
}

// CreateRegistrationToken makes an initial access token for the
// registration endpoint (RFC 7591 §3), good for uses registrations within
// ttl, and returns it once. Bounds broken are *InvalidError.
func (s *Service) CreateRegistrationToken(ctx context.Context, actor Actor, ttl time.Duration, uses int) (string, RegistrationToken, error) {
	ctx = as(ctx, actor)
	token, t, err := s.clients.CreateRegistrationToken(ctx, ttl, uses, actor.Name)
	switch {
	case errors.Is(err, clients.ErrInvalidSpec):
		return "", RegistrationToken{}, &InvalidError{Reason: err.Error()}
	case err != nil:
		return "", RegistrationToken{}, fmt.Errorf("create registration token: %w", err)
	}
	s.record(ctx, "registration_token.created", t.ID, fmt.Sprintf("uses=%d expires=%s", uses, t.ExpiresAt.Format(time.RFC3339)))
	return token, RegistrationToken{ID: t.ID, Created: Time{t.CreatedAt}, Expires: Time{t.ExpiresAt}, UsesLeft: t.UsesLeft}, nil
}
