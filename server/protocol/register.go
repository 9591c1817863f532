package protocol

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/clients"
	"idp/db"
	"idp/oauth"
	"idp/server/plumbing"
)

// Registration modes (--registration).
const (
	RegistrationToken  = "token"
	RegistrationOpen   = "open"
	RegistrationClosed = "closed"
)

// Limits of the registration endpoint.
const (
	maxRegistrationBody = 64 << 10
	// An address may register this many clients in a burst under open
	// registration, and all addresses together this many, before the
	// throttle's doubling waits set in.
	openRegistrationsPerIP  = 10
	openRegistrationsGlobal = 1000
)

// clientMetadata is an RFC 7591 §2 registration request (and, with the
// fields §3.2.1 adds, the response). Members idp does not know are
// ignored, as §2 requires.
type clientMetadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	JWKSURI                 string   `json:"jwks_uri,omitempty"`
	JWKS                    any      `json:"jwks,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	IDTokenSignedAlg        string   `json:"id_token_signed_response_alg,omitempty"`
	DefaultMaxAge           *int     `json:"default_max_age,omitempty"`
	RequireAuthTime         bool     `json:"require_auth_time,omitempty"`
	// OIDC Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2.
	BackchannelLogoutURI              string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired  bool   `json:"backchannel_logout_session_required,omitempty"`
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired bool   `json:"frontchannel_logout_session_required,omitempty"`
	RequirePAR                        bool   `json:"require_pushed_authorization_requests,omitempty"` // RFC 9126 §6
	// Set by the server in responses; a request that sends them is read
	// for RFC 7592 §2.2's checks only.
	ClientID              string `json:"client_id,omitempty"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
	RegistrationToken     string `json:"registration_access_token,omitempty"`
	RegistrationURI       string `json:"registration_client_uri,omitempty"`
}

// registrationError is an RFC 7591 §3.2.2 error: 400 with its code.
func registrationError(code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

func badToken(desc string) *oauth.Error {
	return &oauth.Error{Code: "invalid_token", Description: desc, Status: http.StatusUnauthorized}
}

// headerBearer is the Authorization: Bearer token (RFC 6750 §2.1), the
// only way RFC 7591 and RFC 7592 send one.
func headerBearer(c echo.Context) string {
	scheme, tok, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Register is the registration endpoint (RFC 7591 §3): POST /register
// with JSON client metadata. Under --registration token it needs an
// initial access token (one use is spent, and given back if the
// registration fails); under open anyone may register, but only a public
// client with PKCE for the code flow, never trusted, throttled per
// address.
func (h *Handlers) Register(c echo.Context) error {
	ctx := c.Request().Context()
	how := clients.RegisteredWithToken
	initial := headerBearer(c)
	switch {
	case h.cfg.Registration == RegistrationOpen && initial == "":
		how = clients.RegisteredOpen
	case initial == "":
		return &oauth.Error{Code: "unauthorized", Description: "an initial access token is required", Status: http.StatusUnauthorized}
	}
	md, e := readMetadata(c)
	if e != nil {
		return e
	}
	if md.ClientSecret != "" || md.RegistrationToken != "" {
		return registrationError("invalid_client_metadata", "idp makes the client secret and the registration access token")
	}
	if how == clients.RegisteredOpen {
		if e := openRules(md); e != nil {
			return e
		}
		wait, err := h.cfg.Throttle.Request(ctx, "register", "anyone", c.RealIP(), openRegistrationsGlobal, openRegistrationsPerIP)
		if err != nil {
			return err
		}
		if wait > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return &oauth.Error{Code: "slow_down", Description: "too many registrations from this address; try again later", Status: http.StatusTooManyRequests}
		}
	}
	spec, e := md.spec()
	if e != nil {
		return e
	}
	if spec.ID, e = newClientID(); e != nil {
		return e
	}
	ctx = audit.WithActor(ctx, audit.Actor{Name: "registration:" + how, Via: audit.ViaAPI, IP: c.RealIP()})
	if how == clients.RegisteredOpen {
		initial = ""
	}
	cl, secret, regTok, err := h.site.Clients.Register(ctx, spec, initial)
	switch {
	case errors.Is(err, clients.ErrBadToken):
		return badToken("the initial access token is invalid, expired or used up")
	case errors.Is(err, clients.ErrInvalidSpec):
		return metadataError(err)
	case err != nil:
		return err
	}
	h.site.Audit.Record(ctx, "client.registered", cl.ID, "how="+how)
	out := h.metadataOf(cl)
	out.ClientSecret, out.RegistrationToken = secret, regTok
	out.ClientIDIssuedAt = cl.CreatedAt.Unix()
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, out)
}

// readMetadata decodes the request body as JSON client metadata.
func readMetadata(c echo.Context) (*clientMetadata, *oauth.Error) {
	ct := c.Request().Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		return nil, registrationError("invalid_client_metadata", "the body must be application/json")
	}
	var md clientMetadata
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxRegistrationBody))
	if err := dec.Decode(&md); err != nil {
		return nil, registrationError("invalid_client_metadata", "the body is not a JSON object of client metadata")
	}
	return &md, nil
}

// openRules are what anyone may register (RFC 9700 §2.1.1 and the issue's
// limits): a public client of the code flow, which must use PKCE.
func openRules(md *clientMetadata) *oauth.Error {
	if m := md.TokenEndpointAuthMethod; m != "" && m != clients.AuthNone {
		return registrationError("invalid_client_metadata", "open registration registers public clients only (token_endpoint_auth_method none)")
	}
	md.TokenEndpointAuthMethod = clients.AuthNone
	for _, g := range md.GrantTypes {
		if g != clients.GrantAuthorizationCode && g != clients.GrantRefreshToken {
			return registrationError("invalid_client_metadata", "open registration allows only the authorization_code and refresh_token grants")
		}
	}
	return nil
}

// spec turns the metadata into a client spec, refusing what idp does not
// do with RFC 7591 §3.2.2's codes.
func (md *clientMetadata) spec() (clients.Spec, *oauth.Error) {
	if len(md.RedirectURIs) == 0 && (len(md.GrantTypes) == 0 || slices.Contains(md.GrantTypes, clients.GrantAuthorizationCode)) {
		return clients.Spec{}, registrationError("invalid_redirect_uri", "redirect_uris is required for the authorization_code grant")
	}
	for _, u := range append(slices.Clone(md.RedirectURIs), md.PostLogoutRedirectURIs...) {
		if err := clients.ValidateRedirectURI(u); err != nil {
			return clients.Spec{}, registrationError("invalid_redirect_uri", err.Error())
		}
	}
	for _, rt := range md.ResponseTypes {
		if rt != oauth.ResponseTypeCode {
			return clients.Spec{}, registrationError("invalid_client_metadata", "only the response type code is supported")
		}
	}
	if slices.Contains(strings.Fields(md.Scope), oauth.ScopeAdmin) {
		// Only an admin grants a client idp's own API (CLI, /admin, the
		// admin API), never the registration endpoint.
		return clients.Spec{}, registrationError("invalid_client_metadata", "scope idp:admin cannot be registered")
	}
	spec := clients.Spec{Name: md.ClientName, Public: md.TokenEndpointAuthMethod == clients.AuthNone,
		RedirectURIs: md.RedirectURIs, PostLogoutRedirectURIs: md.PostLogoutRedirectURIs, GrantTypes: md.GrantTypes,
		Scopes: strings.Fields(md.Scope), SigningAlg: md.IDTokenSignedAlg,
		Metadata: clients.Metadata{LogoURI: md.LogoURI, ClientURI: md.ClientURI, PolicyURI: md.PolicyURI, TOSURI: md.TOSURI,
			Contacts: md.Contacts, ApplicationType: md.ApplicationType, RequireAuthTime: md.RequireAuthTime,
			JWKSURI: md.JWKSURI, RequirePAR: md.RequirePAR, Logout: md.logout()}}
	if md.JWKS != nil {
		raw, err := json.Marshal(md.JWKS)
		if err != nil {
			return clients.Spec{}, registrationError("invalid_client_metadata", "jwks is not a JWK Set")
		}
		spec.JWKS = string(raw)
	}
	// RFC 7591 §2: client_secret_basic when the client says nothing.
	spec.TokenEndpointAuthMethod = md.TokenEndpointAuthMethod
	if spec.TokenEndpointAuthMethod == "" {
		spec.TokenEndpointAuthMethod = clients.AuthSecretBasic
	}
	if md.DefaultMaxAge != nil {
		spec.DefaultMaxAge = *md.DefaultMaxAge
	}
	return spec, nil
}

// metadataError maps a refused spec to RFC 7591's codes.
func metadataError(err error) *oauth.Error {
	msg := strings.TrimPrefix(err.Error(), clients.ErrInvalidSpec.Error()+": ")
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if strings.Contains(msg, "redirect URI") {
		return registrationError("invalid_redirect_uri", msg)
	}
	return registrationError("invalid_client_metadata", msg)
}

// metadataOf is the RFC 7591 §3.2.1 / RFC 7592 §3 view of a registered
// client (never its secret, which only the registration response holds).
func (h *Handlers) metadataOf(c *clients.Client) *clientMetadata {
	zero := int64(0)
	md := &clientMetadata{ClientID: c.ID, RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: c.AuthMethod(),
		GrantTypes: c.GrantTypes, ResponseTypes: []string{oauth.ResponseTypeCode}, ClientName: c.Name,
		ClientURI: c.ClientURI, LogoURI: c.LogoURI, Scope: strings.Join(c.Scopes, " "), Contacts: c.Contacts,
		TOSURI: c.TOSURI, PolicyURI: c.PolicyURI, ApplicationType: c.ApplicationType,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, IDTokenSignedAlg: c.SigningAlg, JWKSURI: c.JWKSURI,
		RequireAuthTime: c.RequireAuthTime, RequirePAR: c.RequirePAR, ClientIDIssuedAt: c.CreatedAt.Unix(),
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI, FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,
		RegistrationURI: h.site.URL(plumbing.PathRegister + "/" + c.ID)}
	if c.JWKS != "" {
		md.JWKS = json.RawMessage(c.JWKS)
	}
	if c.DefaultMaxAge > 0 {
		n := c.DefaultMaxAge
		md.DefaultMaxAge = &n
	}
	if !c.Public {
		md.ClientSecretExpiresAt = &zero // RFC 7591 §3.2.1: 0, it does not expire
	}
	return md
}

// registered authenticates an RFC 7592 request: the registration access
// token of the client in the path, else 401 invalid_token (an unknown
// client looks the same).
func (h *Handlers) registered(c echo.Context) (*clients.Client, error) {
	cl, err := h.site.Clients.Registered(c.Request().Context(), c.Param("id"), headerBearer(c))
	if errors.Is(err, clients.ErrBadToken) {
		return nil, badToken("the registration access token is not valid for this client")
	}
	return cl, err
}

// ReadRegistration is RFC 7592 §2.1: the client's current metadata.
func (h *Handlers) ReadRegistration(c echo.Context) error {
	cl, err := h.registered(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, h.metadataOf(cl))
}

// UpdateRegistration is RFC 7592 §2.2: the body replaces the client's
// metadata (fields left out are cleared or take their defaults), checked
// as a registration is, under the rules the client was registered with.
func (h *Handlers) UpdateRegistration(c echo.Context) error {
	cl, err := h.registered(c)
	if err != nil {
		return err
	}
	md, e := readMetadata(c)
	if e != nil {
		return e
	}
	if md.ClientID != cl.ID {
		return registrationError("invalid_client_metadata", "client_id must be the client's own")
	}
	// RFC 7592 §2.2: a client may send back its secret; it must be the
	// current one (compared as stored, an HMAC), and it changes nothing.
	if md.ClientSecret != "" {
		if _, err := h.site.Clients.Authenticate(c.Request().Context(), cl.ID, md.ClientSecret); err != nil {
			return registrationError("invalid_client_metadata", "client_secret is not the client's secret (it cannot be changed here)")
		}
		md.ClientSecret = ""
	}
	md.RegistrationToken = ""
	if cl.Public && md.TokenEndpointAuthMethod == "" {
		md.TokenEndpointAuthMethod = clients.AuthNone
	}
	if cl.Registration == clients.RegisteredOpen {
		if e := openRules(md); e != nil {
			return e
		}
	}
	spec, e := md.spec()
	if e != nil {
		return e
	}
	// What only an admin decides stays as the admin left it.
	kept := clients.SpecOf(cl)
	spec.ID, spec.RequireMFA, spec.Trusted, spec.RequireVerifiedEmail = cl.ID, kept.RequireMFA, kept.Trusted, kept.RequireVerifiedEmail
	ctx := audit.WithActor(c.Request().Context(), audit.Actor{Name: "registration:" + cl.ID, Via: audit.ViaAPI, IP: c.RealIP()})
	updated, err := h.site.Clients.Update(ctx, spec)
	if errors.Is(err, clients.ErrInvalidSpec) {
		return metadataError(err)
	}
	if err != nil {
		return err
	}
	h.site.Audit.Record(ctx, "client.updated", cl.ID, "via=registration")
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, h.metadataOf(updated))
}

// DeleteRegistration is RFC 7592 §2.3: the client is gone, 204.
func (h *Handlers) DeleteRegistration(c echo.Context) error {
	cl, err := h.registered(c)
	if err != nil {
		return err
	}
	ctx := audit.WithActor(c.Request().Context(), audit.Actor{Name: "registration:" + cl.ID, Via: audit.ViaAPI, IP: c.RealIP()})
	if err := h.site.Clients.Store().Delete(ctx, cl.ID); err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	h.site.Audit.Record(ctx, "client.deleted", cl.ID, "via=registration")
	return c.NoContent(http.StatusNoContent)
}

// Registers reports whether the registration endpoint is on.
func (h *Handlers) Registers() bool { return h.cfg.Registration != RegistrationClosed }

// RegistrationPreflight answers CORS preflights for RFC 7592's methods.
func (h *Handlers) RegistrationPreflight(c echo.Context) error {
	hd := c.Response().Header()
	hd.Set("Access-Control-Allow-Methods", "GET, PUT, DELETE")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	hd.Set("Access-Control-Max-Age", "600")
	return c.NoContent(http.StatusNoContent)
}

// newClientID makes the id of a registered client.
func newClientID() (string, *oauth.Error) {
	id, err := clients.NewClientID()
	if err != nil {
		return "", oauth.ServerError("could not make a client id")
	}
	return id, nil
}

// logout is the registration's back- and front-channel logout metadata.
func (md *clientMetadata) logout() clients.Logout {
	return clients.Logout{BackchannelLogoutURI: md.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  md.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             md.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: md.FrontchannelLogoutSessionRequired}
}
