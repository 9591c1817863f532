package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"idp/admin"
	"idp/clients"
)

// metadataFlags are the RFC 7591 §2 metadata flags that clients create and
// clients update share.
type metadataFlags struct {
	logo, home, policy, tos, appType, authMethod string
	jwksURI, jwksFile                            string
	defaultResource                              string
	contacts                                     multi
	maxAge                                       time.Duration
	authTime                                     bool
	logout                                       clients.Logout
	par                                          bool
}

func (m *metadataFlags) register(fs *settingsFlagSet) {
	fs.StringVar(&m.logo, "logo-uri", "", "logo on the sign-in and consent pages: an https URL (never fetched by idp) or a data:image/… URI of at most 32 KiB")
	fs.StringVar(&m.home, "client-uri", "", "the application's home page, linked from the consent page (https)")
	fs.StringVar(&m.policy, "policy-uri", "", "its privacy policy, linked from the consent page (https)")
	fs.StringVar(&m.tos, "tos-uri", "", "its terms of service, linked from the consent page (https)")
	fs.Var(&m.contacts, "contact", "email of someone responsible for the client, repeatable (an empty value clears them on update)")
	fs.StringVar(&m.appType, "application-type", "", "web or native (default web; native when a redirect URI uses a private-use scheme)")
	fs.StringVar(&m.authMethod, "token-endpoint-auth-method", "", "client_secret_basic or client_secret_post to accept only that one (default: either), client_secret_jwt for HMAC assertions with the secret, private_key_jwt for assertions signed by the client's keys, none for public clients")
	fs.DurationVar(&m.maxAge, "default-max-age", 0, "ask for a fresh sign-in when the last one is older than this and the request has no max_age (e.g. 12h; 0 is none)")
	fs.BoolVar(&m.authTime, "require-auth-time", false, "record that the client needs auth_time in ID tokens (idp always includes it)")
	fs.BoolVar(&m.par, "require-par", false, "the client must push every authorization request to the PAR endpoint first (RFC 9126 require_pushed_authorization_requests)")
	fs.StringVar(&m.jwksURI, "jwks-uri", "", "with --token-endpoint-auth-method private_key_jwt: https URL of the client's public keys, fetched and cached by idp")
	fs.StringVar(&m.defaultResource, "default-resource", "", "a registered resource (idp resources create) that is the aud of access tokens when a request names none (an empty value clears it on update)")
	fs.StringVar(&m.jwksFile, "jwks-file", "", "with --token-endpoint-auth-method private_key_jwt: file holding the client's public keys as a JWK Set")
	fs.StringVar(&m.logout.BackchannelLogoutURI, "backchannel-logout-uri", "", "where idp POSTs a logout token when a session the client signed in with ends (https; http on loopback)")
	fs.BoolVar(&m.logout.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "record that the client needs sid in logout tokens (idp always includes it)")
	fs.StringVar(&m.logout.FrontchannelLogoutURI, "frontchannel-logout-uri", "", "loaded in an iframe on the signed-out page when a session the client signed in with ends (https; http on loopback)")
	fs.BoolVar(&m.logout.FrontchannelLogoutSessionRequired, "frontchannel-logout-session-required", false, "add iss and sid to the front-channel logout URI")
}

// jwks reads --jwks-file ("" when not given).
func (m *metadataFlags) jwks() (string, error) {
	if m.jwksFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(m.jwksFile)
	if err != nil {
		return "", fmt.Errorf("--jwks-file: %w", err)
	}
	return string(b), nil
}

func (m *metadataFlags) metadata() (clients.Metadata, error) {
	secs, err := seconds(m.maxAge)
	if err != nil {
		return clients.Metadata{}, err
	}
	jwks, err := m.jwks()
	return clients.Metadata{LogoURI: m.logo, ClientURI: m.home, PolicyURI: m.policy, TOSURI: m.tos,
		Contacts: m.contacts, ApplicationType: m.appType, TokenEndpointAuthMethod: m.authMethod,
		DefaultMaxAge: secs, RequireAuthTime: m.authTime, JWKSURI: m.jwksURI, JWKS: jwks, RequirePAR: m.par,
		DefaultResource: m.defaultResource, Logout: m.logout}, err
}

// seconds turns --default-max-age into whole seconds.
func seconds(d time.Duration) (int, error) {
	if d < 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("--default-max-age must be a whole number of seconds, not %s", d)
	}
	return int(d / time.Second), nil
}

// clientsUpdate changes a client's registration; only the flags given
// change, lists are replaced whole (an empty value clears one), and
// --new-secret replaces the secret and prints the new one once.
func clientsUpdate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "clients update",
		"clients update --id ID [--name N] [--logo-uri U] [--client-uri U] [--policy-uri U] [--tos-uri U] [--contact E]... [--redirect-uri U]... [--post-logout-redirect-uri U]... [--grant-type G]... [--scope S]... [--signing-alg A] [--trusted=BOOL] [--require-mfa=BOOL] [--require-verified-email=BOOL] [--application-type T] [--token-endpoint-auth-method M] [--default-max-age D] [--require-auth-time=BOOL] [--require-par=BOOL] [--jwks-uri U | --jwks-file F] [--default-resource URI] [--backchannel-logout-uri U] [--backchannel-logout-session-required=BOOL] [--frontchannel-logout-uri U] [--frontchannel-logout-session-required=BOOL] [--new-secret]",
		adminSettings()...)
	id := fs.String("id", "", "client id (required)")
	name := fs.String("name", "", "name shown to users on sign-in and consent")
	var redirects, postLogout, grants, scopes multi
	fs.Var(&redirects, "redirect-uri", "the client's redirect URIs from now on, repeatable")
	fs.Var(&postLogout, "post-logout-redirect-uri", "its post-logout redirect URIs from now on, repeatable")
	fs.Var(&grants, "grant-type", "its grant types from now on, repeatable")
	fs.Var(&scopes, "scope", "its scopes from now on, repeatable")
	alg := fs.String("signing-alg", "", "RS256 or ES256")
	trusted := fs.Bool("trusted", false, "first-party client: no consent screen")
	mfa := fs.Bool("require-mfa", false, "every sign-in needs a second factor")
	verified := fs.Bool("require-verified-email", false, "users must have verified their email address before a code is issued")
	newSecret := fs.Bool("new-secret", false, "replace the secret with a generated one, printed once; the old one stops working")
	asJSON := fs.Bool("json", false, "print JSON")
	var m metadataFlags
	m.register(fs)
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("clients update needs --id")
	}
	var up admin.ClientUpdate
	var bad error
	list := func(v multi) *[]string { l := []string(v); return &l }
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			up.Name = name
		case "redirect-uri":
			up.RedirectURIs = list(redirects)
		case "post-logout-redirect-uri":
			up.PostLogoutRedirectURIs = list(postLogout)
		case "grant-type":
			up.GrantTypes = list(grants)
		case "scope":
			up.Scopes = list(scopes)
		case "signing-alg":
			up.SigningAlg = alg
		case "trusted":
			up.Trusted = trusted
		case "require-mfa":
			up.RequireMFA = mfa
		case "require-verified-email":
			up.RequireVerifiedEmail = verified
		case "logo-uri":
			up.LogoURI = &m.logo
		case "client-uri":
			up.ClientURI = &m.home
		case "policy-uri":
			up.PolicyURI = &m.policy
		case "tos-uri":
			up.TOSURI = &m.tos
		case "contact":
			up.Contacts = list(m.contacts)
		case "application-type":
			up.ApplicationType = &m.appType
		case "token-endpoint-auth-method":
			up.TokenEndpointAuthMethod = &m.authMethod
		case "default-max-age":
			secs, err := seconds(m.maxAge)
			up.DefaultMaxAge, bad = &secs, err
		case "require-auth-time":
			up.RequireAuthTime = &m.authTime
		case "require-par":
			up.RequirePAR = &m.par
		case "jwks-uri":
			up.JWKSURI = &m.jwksURI
		case "backchannel-logout-uri":
			up.BackchannelLogoutURI = &m.logout.BackchannelLogoutURI
		case "backchannel-logout-session-required":
			up.BackchannelLogoutSessionRequired = &m.logout.BackchannelLogoutSessionRequired
		case "frontchannel-logout-uri":
			up.FrontchannelLogoutURI = &m.logout.FrontchannelLogoutURI
		case "frontchannel-logout-session-required":
			up.FrontchannelLogoutSessionRequired = &m.logout.FrontchannelLogoutSessionRequired
		case "default-resource":
			up.DefaultResource = &m.defaultResource
		case "jwks-file":
			raw, err := m.jwks()
			if err != nil {
				bad = err
				break
			}
			if strings.TrimSpace(raw) == "" {
				raw = "null"
			}
			j := json.RawMessage(raw)
			up.JWKS = &j
		}
	})
	if bad != nil {
		return bad
	}
	changes := up != (admin.ClientUpdate{})
	if !changes && !*newSecret {
		return fmt.Errorf("clients update needs --id and at least one thing to change")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	var c admin.Client
	if changes {
		if c, err = e.Admin.UpdateClient(ctx, actorOf(ctx), *id, up); err != nil {
			return fmt.Errorf("update client %s: %w", *id, err)
		}
	}
	secret := ""
	if *newSecret {
		if secret, err = e.Admin.RegenerateClientSecret(ctx, actorOf(ctx), *id); err != nil {
			return fmt.Errorf("new secret for client %s: %w", *id, err)
		}
	}
	if *asJSON {
		out := map[string]any{"client_id": *id}
		if changes {
			out["client"] = c
		}
		if secret != "" {
			out["client_secret"] = secret
		}
		return printJSON(s, out)
	}
	fmt.Fprintf(s.out, "updated %s\n", *id)
	if secret != "" {
		fmt.Fprintf(s.out, "client_secret: %s\n", secret)
		fmt.Fprintln(s.err, "idp: the client secret is shown once; store it now")
	}
	return nil
}

// clientsRegistrationToken is `idp clients registration-token create`:
// an initial access token for the registration endpoint, printed on
// stdout once (RFC 7591 §3, --registration token).
func clientsRegistrationToken(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{"create": registrationTokenCreate}
	return dispatch(ctx, "clients registration-token", "create", sub, args, s)
}

func registrationTokenCreate(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "clients registration-token create",
		"clients registration-token create [--ttl 24h] [--uses N]", adminSettings()...)
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token may be used")
	uses := fs.Int("uses", 1, "how many clients it may register")
	asJSON := fs.Bool("json", false, "print JSON (the token and when it expires)")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	token, t, err := e.Admin.CreateRegistrationToken(ctx, actorOf(ctx), *ttl, *uses)
	if err != nil {
		return fmt.Errorf("create registration token: %w", err)
	}
	if *asJSON {
		return printJSON(s, map[string]any{"token": token, "id": t.ID, "expires_at": t.Expires, "uses": t.UsesLeft})
	}
	fmt.Fprintln(s.out, token)
	fmt.Fprintf(s.err, "idp: registration token for %d client(s), until %s; shown once\n", t.UsesLeft, t.Expires)
	return nil
}
