package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// claimsKey is the context key of the verified claims.
type claimsKey struct{}

// Middleware lets a request through only with a valid access token in the
// Authorization header — a bearer token (RFC 6750 §2.1), or a DPoP-bound
// token with its proof (RFC 9449 §7, see dpop.go) — and puts its
// *AccessClaims in the request context (see ClaimsFrom). Tokens in the query or form body
// (§2.2, §2.3) are not accepted: they end up in logs and caches.
//
// Failures answer as RFC 6750 §3 describes: no credentials, 401 with a bare
// Bearer challenge (§3.1 asks for no error code then); a malformed header,
// 400 invalid_request; a token that does not verify, 401 invalid_token with
// a short error_description that reveals nothing but the reason. With
// Config.Resource set, every challenge also names the resource's metadata
// (RFC 9728 §5.1), so a client that knows only the URL finds idp.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := v.authenticate(r)
		var refused *errAuth
		switch {
		case errors.Is(err, errNoToken):
			v.challenge(w, http.StatusUnauthorized, "", "", "", v.cfg.RequireDPoP)
			return
		case errors.As(err, &refused):
			v.challenge(w, refused.status, refused.code, refused.desc, "", refused.dpop)
			return
		case err != nil:
			// Not the token's fault: the request was cancelled while the
			// JWKS was being fetched.
			http.Error(w, "token verification unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

// ClaimsFrom returns the claims Middleware verified for this request.
func ClaimsFrom(ctx context.Context) (*AccessClaims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*AccessClaims)
	return c, ok && c != nil
}

// RequireScope lets a request through only if the token Middleware verified
// was granted scope; otherwise it answers 403 insufficient_scope naming the
// scope needed (RFC 6750 §3.1). Put it inside Middleware; on its own it
// answers 401.
func (v *Verifier) RequireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		switch {
		case !ok:
			v.challenge(w, http.StatusUnauthorized, "", "", "", v.cfg.RequireDPoP)
		case !c.HasScope(scope):
			v.challenge(w, http.StatusForbidden, "insufficient_scope", "the token lacks the required scope", scope, c.JKT != "")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// errNoToken means the request carries no credentials at all, or those
// of another scheme (so a Basic-authenticated route can share the
// middleware).
var errNoToken = errors.New("no access token")

// isB64Token matches RFC 6750 §2.1's b64token: 1*( ALPHA / DIGIT / "-" /
// "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, r := range body {
		ok := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~+/", r)
		if !ok {
			return false
		}
	}
	return true
}

// describe names the reason err wraps, in words safe to send back.
func describe(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return r.Error()
		}
	}
	return ErrInvalidToken.Error()
}

// challenge writes an RFC 6750 §3 error: the WWW-Authenticate challenge
// with the realm (Config.Audience), resource_metadata when Config.Resource
// is set (RFC 9728 §5.1; in every challenge, so a client that needs more
// scope can look up scopes_supported too) and, when code is set, error,
// error_description and scope; plus the same as a JSON body for clients
// that read bodies. Each auth-param is a quoted-string and they are
// separated by commas (RFC 9110 §11.2). Errors are never cached (RFC 6749
// §5.2 practice). With dpopScheme the challenge is DPoP's (RFC 9449 §7.1)
// instead; a request without credentials is offered both schemes, or only
// DPoP when Config.RequireDPoP.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc, scope string, dpopScheme bool) {
	params := []string{"realm=" + quote(v.cfg.Audience)}
	if v.metadataURL != "" {
		params = append(params, "resource_metadata="+quote(v.metadataURL))
	}
	body := map[string]string{}
	if code != "" {
		params = append(params, "error="+quote(code), "error_description="+quote(desc))
		body["error"], body["error_description"] = code, desc
	}
	if scope != "" {
		params = append(params, "scope="+quote(scope))
		body["scope"] = scope
	}
	h := w.Header()
	switch {
	case code == "" && !dpopScheme:
		h.Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
		h.Add("WWW-Authenticate", v.dpopChallenge("", ""))
	case dpopScheme:
		h.Set("WWW-Authenticate", v.dpopChallenge(code, desc))
	default:
		h.Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	}
	h.Set("Cache-Control", "no-store")
	if len(body) == 0 {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// quote makes an RFC 9110 §5.6.4 quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
