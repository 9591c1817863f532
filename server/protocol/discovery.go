package protocol

import (
	"encoding/json"
	"slices"

	"idp/clients"

	"github.com/labstack/echo/v4"

	"idp/keys"
	"idp/mfa"
	"idp/oauth"
	"idp/server/plumbing"
)

// discoveryDoc is the OpenID Provider Metadata (OIDC Discovery 1.0 §3,
// RFC 8414 §2). It lists exactly what works.
type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ACRValuesSupported                []string `json:"acr_values_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	AuthResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	logoutDiscovery
	// RFC 9126 §5.
	PushedAuthorizationRequestEndpoint string `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool   `json:"require_pushed_authorization_requests"`
}

// authMethods are the client authentication methods of every endpoint
// that authenticates clients (RFC 6749 §2.3).
var authMethods = []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}

// buildDiscovery renders the metadata once: it depends only on configuration.
func (h *Handlers) buildDiscovery() ([]byte, error) {
	doc := discoveryDoc{
		Issuer:                            h.site.Issuer,
		AuthorizationEndpoint:             h.site.URL(plumbing.PathAuthorize),
		TokenEndpoint:                     h.site.URL(plumbing.PathToken),
		UserInfoEndpoint:                  h.site.URL(plumbing.PathUserInfo),
		RevocationEndpoint:                h.site.URL(plumbing.PathRevoke),
		IntrospectionEndpoint:             h.site.URL(plumbing.PathIntrospect),
		EndSessionEndpoint:                h.site.URL(plumbing.PathEndSession),
		DeviceAuthorizationEndpoint:       h.site.URL(plumbing.PathDeviceAuthorization),
		JWKSURI:                           h.site.URL(plumbing.PathJWKS),
		ScopesSupported:                   []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeOfflineAccess, oauth.ScopeAdmin},
		ResponseTypesSupported:            []string{oauth.ResponseTypeCode},
		ResponseModesSupported:            []string{oauth.ResponseModeQuery, oauth.ResponseModeFormPost},
		GrantTypesSupported:               []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantDeviceCode},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  keys.Algs,
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgs:      assertionAlgs(),
		RevocationAuthMethodsSupported:    authMethods,
		IntrospectionAuthMethodsSupported: authMethods,
		ClaimsSupported:                   []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "amr", "acr", "email", "email_verified", "name"},
		ACRValuesSupported:                mfa.ACRValuesSupported,
		CodeChallengeMethodsSupported:     []string{oauth.PKCES256},
		PromptValuesSupported:             []string{oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent},
		AuthResponseIssParameterSupported: true,
		logoutDiscovery:                   logoutSupported,
	}
	doc.PushedAuthorizationRequestEndpoint = h.site.URL(plumbing.PathPAR)
	doc.RequirePushedAuthorizationRequests = h.cfg.RequirePAR
	if h.cfg.Registration != RegistrationClosed {
		doc.RegistrationEndpoint = h.site.URL(plumbing.PathRegister)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// assertionAlgs are the algs a private_key_jwt or client_secret_jwt
// assertion may use.
func assertionAlgs() []string {
	out := make([]string, 0, len(clients.AssertionAlgs)+len(clients.SecretAssertionAlgs))
	for _, a := range append(slices.Clone(clients.AssertionAlgs), clients.SecretAssertionAlgs...) {
		out = append(out, string(a))
	}
	return out
}

var hdrDiscoveryCache = []string{"public, max-age=3600"}

// Discovery serves /.well-known/openid-configuration and RFC 8414's
// /.well-known/oauth-authorization-server: one document, because every
// member RFC 8414 defines that idp supports is already in it (OIDC Discovery
// and RFC 8414 share a registry, RFC 8414 §2), and a client must get the
// same answers whichever it reads.
func (h *Handlers) Discovery(c echo.Context) error {
	c.Response().Header()["Cache-Control"] = hdrDiscoveryCache
	return writeJSONBytes(c, h.discovery)
}
