package upstreams

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// configured is the provider of an oauth2 or github upstream: its
// endpoints come from its settings, not from discovery, so there is
// nothing to cache and nothing to verify an ID token with.
func configured(u *Upstream) *provider {
	if u.Kind == KindGitHub {
		web, api := githubURLs(u.GitHubURL)
		return &provider{clientID: u.ClientID, authURL: web + "/login/oauth/authorize",
			tokenURL: web + "/login/oauth/access_token", apiURL: api, secretInForm: true}
	}
	return &provider{clientID: u.ClientID, authURL: u.AuthURL, tokenURL: u.TokenURL, userinfoURL: u.UserinfoURL}
}

// bearer returns the access token of a token response, refusing one that
// is missing or of a type idp cannot present (RFC 6750 is the only one a
// userinfo or API call here understands; the type is case-insensitive,
// RFC 6749 §5.1, and GitHub sends "bearer").
func bearer(tok *tokenResponse) (string, error) {
	if tok.AccessToken == "" {
		return "", fmt.Errorf("%w: no access_token in the token response", ErrUnavailable)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return "", fmt.Errorf("%w: token_type %q is not bearer", ErrUnavailable, tok.TokenType)
	}
	return tok.AccessToken, nil
}

// oauth2Identity reads the claims of a plain OAuth 2.0 upstream: the JSON
// object its userinfo URL returns for the access token, mapped by the
// upstream's claim mapping. Whatever goes wrong there (down, slow, not
// 200, not a JSON object, no subject) is the upstream's failure.
func (s *Service) oauth2Identity(ctx context.Context, u *Upstream, p *provider, tok *tokenResponse) (*Identity, error) {
	at, err := bearer(tok)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if _, err := s.getJSON(ctx, p.userinfoURL, at, "application/json", &claims); err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if claims == nil {
		return nil, fmt.Errorf("%w: userinfo: the answer is not a JSON object", ErrUnavailable)
	}
	return u.Claims.identity(u.Kind, claims)
}

// getJSON GETs url with the access token as a Bearer credential (RFC 6750
// §2.1) and decodes the JSON answer into into, keeping numbers exact
// (json.Number: a 64-bit id must not lose digits as a float64). It
// returns the response headers, for pagination; header holds extra
// name, value pairs to send. The token is never put
// in an error: errors end up in the log.
func (s *Service) getJSON(ctx context.Context, url, token, accept string, into any, header ...string) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", accept)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, req.URL.Path, err)
	}
	if resp.StatusCode == http.StatusUnauthorized { // RFC 6750 §3.1 invalid_token
		return nil, fmt.Errorf("%w: %w: %s answered 401: %.200s", ErrUnavailable, errUnauthorized, req.URL.Path, body)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %d: %.200s", ErrUnavailable, req.URL.Path, resp.StatusCode, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return nil, fmt.Errorf("%w: %s: not the JSON expected: %w", ErrUnavailable, req.URL.Path, err)
	}
	return resp.Header, nil
}
