package protocol

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"idp/clients"
	"idp/db"
	"idp/mfa"
	"idp/oauth"
	"idp/server/plumbing"
	"idp/tokens"
)

// Authorize is the authorization endpoint (RFC 6749 §4.1.1, OIDC Core
// §3.1.2) for GET and POST. Until the client and redirect_uri are known to
// be good, errors are shown to the user and never redirected (§4.1.2.1);
// after that they go back to the client with state and iss (RFC 9207).
func (h *Handlers) Authorize(c echo.Context) error {
	params, err := authorizeParams(c)
	var perr *oauth.Error
	if err != nil && (!errors.As(err, &perr) || perr.NoRedirect) {
		return err
	}
	ctx := c.Request().Context()
	client, err := h.authorizeClient(ctx, params.Get("client_id"))
	if err != nil {
		return err
	}
	// A pushed request (RFC 9126 §4) replaces every other parameter.
	pushed, err := h.loadPushed(ctx, client, params)
	if err != nil {
		return err
	}
	if pushed != nil {
		params, perr = pushed.Params, nil
	}
	req, oerr := h.checkAuthorize(client, params)
	if oerr == nil {
		oerr = h.targets(ctx, client, req)
	}
	if perr != nil && (oerr == nil || !oerr.NoRedirect) {
		oerr = perr // a repeated parameter, reported to the now-known client
	}
	if oerr == nil {
		oerr = h.requirePushed(client, pushed)
	}
	if oerr != nil {
		return h.redirectError(c, req, oerr)
	}
	if err := h.claimPushed(ctx, pushed); err != nil {
		return err
	}
	sess, user, err := h.site.CurrentUser(c)
	if err != nil {
		return err
	}
	return h.continueAuthorization(c, client, req, sess, user)
}

// authorizeParams reads the query (GET) or form body (POST). A parameter
// sent twice is refused (RFC 6749 §3.1), except resource, which RFC 8707 §2
// allows to repeat. The values come back with that error so it can be
// redirected once the client is known (§4.1.2.1) — unless the repeated
// parameter decides where the answer goes, which makes it a page.
func authorizeParams(c echo.Context) (url.Values, error) {
	var v url.Values
	if c.Request().Method == http.MethodPost {
		if err := c.Request().ParseForm(); err != nil {
			return nil, oauth.InvalidRequest("the request body is not a valid form").WithoutRedirect()
		}
		v = c.Request().PostForm
	} else {
		v = c.QueryParams()
	}
	var repeated *oauth.Error
	for k, vals := range v {
		if !plumbing.ValidValues(k, vals) {
			return nil, oauth.InvalidRequest("parameters must be UTF-8 text without NUL").WithoutRedirect()
		}
		if len(vals) < 2 || k == "resource" {
			continue
		}
		e := oauth.InvalidRequest(fmt.Sprintf("parameter %s is repeated", k))
		if k == "client_id" || k == "redirect_uri" || k == "response_mode" || k == "state" {
			return nil, e.WithoutRedirect()
		}
		repeated = e
	}
	if repeated != nil {
		return v, repeated
	}
	return v, nil
}

// authorizeClient finds the client named by client_id. Its errors never
// redirect.
func (h *Handlers) authorizeClient(ctx context.Context, id string) (*clients.Client, error) {
	if id == "" {
		return nil, oauth.InvalidRequest("the sign-in link does not name an application (client_id is missing)").WithoutRedirect()
	}
	client, err := h.site.Clients.Store().ByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, oauth.InvalidRequest("the application is not registered with this sign-in service").WithoutRedirect()
	}
	if err != nil {
		return nil, err
	}
	return client, nil
}

// checkAuthorize validates the authorization request parameters p of
// client: the one set of rules of the authorization endpoint and the PAR
// endpoint (RFC 9126 §2.1 validates a pushed request as /authorize would).
// redirect_uri is checked exactly first (RFC 9700 §2.1); its errors never
// redirect and come with a nil request. Every other error comes with the
// request (redirect_uri, state, response mode), so it can be redirected.
func (h *Handlers) checkAuthorize(client *clients.Client, p url.Values) (*tokens.AuthRequest, *oauth.Error) {
	uri := p.Get("redirect_uri")
	if uri == "" {
		return nil, oauth.InvalidRequest("the sign-in link does not say where to return you (redirect_uri is missing)").WithoutRedirect()
	}
	if !client.HasRedirectURI(uri) {
		return nil, oauth.InvalidRequest("the sign-in link would return you to an address this application has not registered (redirect_uri)").WithoutRedirect()
	}
	return h.parseAuthorize(client, uri, p)
}

// parseAuthorize validates everything else. It always returns a request
// carrying redirect_uri, state and response mode, so errors can be
// redirected.
func (h *Handlers) parseAuthorize(client *clients.Client, redirectURI string, p url.Values) (*tokens.AuthRequest, *oauth.Error) {
	req := &tokens.AuthRequest{
		ClientID: client.ID, RedirectURI: redirectURI, State: p.Get("state"),
		ResponseMode: oauth.ResponseModeQuery, Nonce: p.Get("nonce"), LoginHint: p.Get("login_hint"),
		UpstreamHint: upstreamHint(p),
	}
	switch m := p.Get("response_mode"); m {
	case "", oauth.ResponseModeQuery:
	case oauth.ResponseModeFormPost:
		req.ResponseMode = m
	default:
		return req, oauth.InvalidRequest("response_mode must be query or form_post")
	}
	if e := checkLengths(p); e != nil {
		return req, e
	}
	switch rt := p.Get("response_type"); {
	case rt == "":
		return req, oauth.InvalidRequest("response_type is missing")
	case rt != oauth.ResponseTypeCode:
		return req, oauth.UnsupportedResponseType("only response_type=code is supported")
	case !client.AllowsGrant(clients.GrantAuthorizationCode):
		return req, oauth.UnauthorizedClient("this client may not use the authorization code flow")
	}
	if p.Has("request") {
		return req, &oauth.Error{Code: "request_not_supported", Description: "request objects are not supported", Status: 400}
	}
	if p.Has("request_uri") {
		return req, &oauth.Error{Code: "request_uri_not_supported", Description: "request_uri is not supported", Status: 400}
	}
	var e *oauth.Error
	if req.Scopes, e = authorizeScopes(client, p.Get("scope")); e != nil {
		return req, e
	}
	if req.CodeChallenge, req.CodeChallengeMethod, e = authorizePKCE(client, p); e != nil {
		return req, e
	}
	prompts, ok := oauth.ParsePrompt(p.Get("prompt"))
	if !ok {
		return req, oauth.InvalidRequest("prompt must be none, login or consent, and none cannot be combined")
	}
	req.Prompt = prompts
	if ma := p.Get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return req, oauth.InvalidRequest("max_age must be a non-negative number of seconds")
		}
		req.MaxAge = &n
	} else if client.DefaultMaxAge > 0 {
		// OIDC Registration §2 default_max_age: as if the request said it.
		n := client.DefaultMaxAge
		req.MaxAge = &n
	}
	if req.Resources, e = parseResources(p["resource"]); e != nil {
		return req, e
	}
	// acr_values is a voluntary request (OIDC Core §5.5.1.1): values idp
	// does not issue are ignored; the ones it knows are honoured.
	req.ACRValues = mfa.ParseACRValues(p.Get("acr_values"))
	if req.DPoPJKT, e = parseDPoPJKT(p.Get("dpop_jkt")); e != nil { // RFC 9449 §10
		return req, e
	}
	return req, nil
}

// checkLengths bounds free-text parameters so the pending request row stays
// small.
func checkLengths(p url.Values) *oauth.Error {
	limits := map[string]int{"state": 2048, "nonce": 512, "login_hint": 256, "scope": 2048, "acr_values": 512}
	for k, n := range limits {
		if len(p.Get(k)) > n {
			return oauth.InvalidRequest(fmt.Sprintf("%s is longer than %d characters", k, n))
		}
	}
	return nil
}

// authorizeScopes requires openid (this is an OpenID provider) and refuses
// scopes the client is not allowed.
func authorizeScopes(client *clients.Client, raw string) ([]string, *oauth.Error) {
	scopes, ok := oauth.ParseScope(raw)
	if !ok {
		return nil, oauth.InvalidScope("scope contains a forbidden character")
	}
	if !slices.Contains(scopes, oauth.ScopeOpenID) {
		return nil, oauth.InvalidScope("scope must include openid")
	}
	for _, sc := range scopes {
		if !client.AllowsScope(sc) {
			return nil, oauth.InvalidScope(fmt.Sprintf("this client may not request scope %s", sc))
		}
	}
	return scopes, nil
}

// authorizePKCE accepts only S256 (RFC 9700 §2.1.1) and requires it from
// public clients, which have no other proof at the token endpoint.
func authorizePKCE(client *clients.Client, p url.Values) (string, string, *oauth.Error) {
	challenge, method := p.Get("code_challenge"), p.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return "", "", oauth.InvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && client.Public:
		return "", "", oauth.InvalidRequest("public clients must use PKCE with S256 (code_challenge)")
	case challenge == "":
		return "", "", nil
	case method != oauth.PKCES256:
		// A missing method means plain (RFC 7636 §4.3), which is refused.
		return "", "", oauth.InvalidRequest("code_challenge_method must be S256")
	case !oauth.ValidVerifier(challenge):
		return "", "", oauth.InvalidRequest("code_challenge is malformed")
	}
	return challenge, method, nil
}

// targets settles the request's resources (RFC 8707): the client's default
// resource when it names none, and only registered resources
// (invalid_target otherwise) that allow every requested scope
// (invalid_scope otherwise, RFC 6749 §4.1.2.1), before anything is
// stored.
func (h *Handlers) targets(ctx context.Context, client *clients.Client, req *tokens.AuthRequest) *oauth.Error {
	req.Resources = client.Audience(req.Resources)
	return h.checkTargets(ctx, req.Resources, req.Scopes)
}

// checkTargets asks tokens whether audience is registered and allows
// scopes, as an OAuth error.
func (h *Handlers) checkTargets(ctx context.Context, audience, scopes []string) *oauth.Error {
	err := h.site.Tokens.CheckResources(ctx, audience, scopes)
	var oe *oauth.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe):
		return oe
	}
	return oauth.ServerError("look up the requested resources").Wrap(err)
}

// parseResources checks RFC 8707 resource indicators: absolute URIs
// without a fragment.
func parseResources(raw []string) ([]string, *oauth.Error) {
	var out []string
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" || len(r) > 512 {
			return nil, &oauth.Error{Code: "invalid_target", Description: "resource must be an absolute URI without a fragment", Status: 400}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) > 8 {
		return nil, &oauth.Error{Code: "invalid_target", Description: "too many resources", Status: 400}
	}
	return out, nil
}
