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

// Middleware lets a request through only with a valid bearer access token
// in the Authorization header (RFC 6750 §2.1) and puts its *AccessClaims in
// the request context (see ClaimsFrom). Tokens in the query or form body
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
		raw, err := bearerToken(r.Header)
		switch {
		case errors.Is(err, errNoToken):
			v.challenge(w, http.StatusUnauthorized, "", "", "")
			return
		case err != nil:
			v.challenge(w, http.StatusBadRequest, "invalid_request", err.Error(), "")
			return
		}
		claims, err := v.VerifyAccessToken(r.Context(), raw)
		switch {
		case errors.Is(err, ErrInvalidToken):
			v.challenge(w, http.StatusUnauthorized, "invalid_token", describe(err), "")
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
			v.challenge(w, http.StatusUnauthorized, "", "", "")
		case !c.HasScope(scope):
			v.challenge(w, http.StatusForbidden, "insufficient_scope", "the token lacks the required scope", scope)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// errNoToken means the request carries no bearer credentials at all.
var errNoToken = errors.New("no bearer token")

// bearerToken extracts the token of "Authorization: Bearer <b64token>"
// (RFC 6750 §2.1). The scheme is case-insensitive (RFC 9110 §11.1). Another
// scheme counts as no token, so a Basic-authenticated route can share it.
func bearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", errNoToken
	}
	if len(vals) > 1 {
		return "", errors.New("more than one Authorization header")
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	tok = strings.TrimLeft(tok, " ") // credentials = auth-scheme 1*SP token68
	if !isB64Token(tok) {
		return "", errors.New("malformed bearer token")
	}
	return tok, nil
}

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
// §5.2 practice).
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc, scope string) {
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
	h.Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
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
