package upstreams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"idp/db"
)

// GitHub is an OAuth 2.0 provider without OpenID Connect: no ID token, no
// discovery, and the address on the profile (GET /user) is whatever its
// owner typed, not one GitHub vouches for. So idp assembles the claims of
// a GitHub sign-in from the REST API (docs.github.com, "Users", "Emails",
// "Organizations" and "Teams"):
//
//   - id: GitHub's numeric account id, the subject: a login can be
//     renamed and then taken by somebody else, the id never changes;
//   - login, name (the login when no name is set), and the rest of /user;
//   - email and email_verified: the primary address of GET /user/emails
//     and whether GitHub verified it (scope user:email);
//   - groups, with scope read:org granted: the logins of the person's
//     organisations (GET /user/orgs) and "org/team-slug" for each team
//     (GET /user/teams), so --roles-claim groups and --required-group
//     work as for any provider.

// githubAccept is the media type GitHub's REST API documents.
const githubAccept = "application/vnd.github+json"

// githubAPIVersion pins the REST API version the shapes below are from.
const githubAPIVersion = "2022-11-28"

// githubMaxPages bounds how many pages of emails, orgs or teams one
// sign-in reads (100 each): enough for any person, finite for any answer.
const githubMaxPages = 10

// githubURLs returns the web and API base of a GitHub upstream: github.com
// has its API on api.github.com, GitHub Enterprise Server under /api/v3 of
// its own host.
func githubURLs(base string) (web, api string) {
	if base == "" || base == "https://github.com" {
		return "https://github.com", "https://api.github.com"
	}
	return base, base + "/api/v3"
}

// githubIdentity reads the person behind access token tok from the API of
// upstream u. Without a verified primary email only an already linked
// GitHub account may sign in: no account can be matched or made from an
// address nobody vouched for.
func (s *Service) githubIdentity(ctx context.Context, u *Upstream, p *provider, tok *tokenResponse) (*Identity, error) {
	at, err := bearer(tok)
	if err != nil {
		return nil, err
	}
	claims, err := s.githubClaims(ctx, u, p, tok, at)
	if err != nil {
		return nil, err
	}
	ident, err := u.Claims.identity(KindGitHub, claims)
	if err != nil {
		return nil, err
	}
	if !ident.EmailVerified {
		if err := s.unvouched(ctx, u, ident); err != nil {
			return nil, err
		}
	}
	return ident, nil
}

// githubClaims assembles the claims described above.
func (s *Service) githubClaims(ctx context.Context, u *Upstream, p *provider, tok *tokenResponse, at string) (map[string]any, error) {
	var claims map[string]any
	if _, err := s.githubGet(ctx, p.apiURL+"/user", at, &claims); err != nil {
		return nil, fmt.Errorf("github user: %w", err)
	}
	if claims == nil {
		return nil, fmt.Errorf("%w: github user: not a JSON object", ErrUnavailable)
	}
	if name, _ := claims["name"].(string); name == "" {
		claims["name"] = claims["login"]
	}
	// The profile's email is not vouched for; only /user/emails says so.
	delete(claims, "email")
	claims["email_verified"] = false
	emails, err := githubList[struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}](ctx, s, p, p.apiURL+"/user/emails", at)
	if err != nil {
		return nil, fmt.Errorf("github emails: %w", err)
	}
	for _, e := range emails {
		if e.Primary && e.Email != "" {
			claims["email"], claims["email_verified"] = e.Email, e.Verified
		}
	}
	if granted(tok, u, "read:org") {
		groups, err := s.githubGroups(ctx, p, at)
		if err != nil {
			return nil, err
		}
		claims["groups"] = groups
	}
	return claims, nil
}

// githubGroups lists org logins and "org/team-slug" of the person.
func (s *Service) githubGroups(ctx context.Context, p *provider, at string) ([]any, error) {
	orgs, err := githubList[struct {
		Login string `json:"login"`
	}](ctx, s, p, p.apiURL+"/user/orgs", at)
	if err != nil {
		return nil, fmt.Errorf("github orgs: %w", err)
	}
	teams, err := githubList[struct {
		Slug         string `json:"slug"`
		Organization struct {
			Login string `json:"login"`
		} `json:"organization"`
	}](ctx, s, p, p.apiURL+"/user/teams", at)
	if err != nil {
		return nil, fmt.Errorf("github teams: %w", err)
	}
	groups := []any{}
	for _, o := range orgs {
		if o.Login != "" && !slices.Contains(groups, any(o.Login)) {
			groups = append(groups, o.Login)
		}
	}
	for _, t := range teams {
		if t.Slug != "" && t.Organization.Login != "" {
			groups = append(groups, t.Organization.Login+"/"+t.Slug)
		}
	}
	return groups, nil
}

// granted reports whether scope was granted: GitHub says so in the token
// response, comma-separated (a person may have granted less than asked,
// even nothing: ""); without that, what was asked.
func granted(tok *tokenResponse, u *Upstream, scope string) bool {
	if tok.Scope == nil {
		return slices.Contains(u.Scopes, scope)
	}
	return slices.Contains(strings.FieldsFunc(*tok.Scope, func(r rune) bool { return r == ',' || r == ' ' }), scope)
}

// githubGet is getJSON with GitHub's media type and API version.
func (s *Service) githubGet(ctx context.Context, url, at string, into any) (http.Header, error) {
	return s.getJSON(ctx, url, at, githubAccept, into, "X-GitHub-Api-Version", githubAPIVersion)
}

var nextLinkRE = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// githubList reads every page of a GitHub list (100 a page, following the
// Link header's rel="next", RFC 8288), at most githubMaxPages. A next page
// outside the API base is not followed: the access token goes nowhere
// else.
func githubList[T any](ctx context.Context, s *Service, p *provider, url, at string) ([]T, error) {
	var out []T
	next := url + "?per_page=100"
	for range githubMaxPages {
		var page []T
		h, err := s.githubGet(ctx, next, at, &page)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		m := nextLinkRE.FindStringSubmatch(h.Get("Link"))
		if m == nil || !strings.HasPrefix(m[1], p.apiURL+"/") {
			break
		}
		next = m[1]
	}
	return out, nil
}

// unvouched decides a GitHub sign-in whose primary email GitHub has not
// verified: an existing link still signs in (the link is by id, not by
// address); otherwise it is refused, as a link refusal when an idp
// account has that address (the person should sign in to it another
// way), else as no account.
func (s *Service) unvouched(ctx context.Context, u *Upstream, ident *Identity) error {
	_, err := s.store.link(ctx, u.ID, ident.Subject)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, db.ErrNotFound):
		return err
	}
	if ident.Email != "" {
		if existing, err := s.users.Store().ByEmail(ctx, ident.Email); err == nil {
			return fmt.Errorf("%w: user %s has %q, which GitHub has not verified", ErrLinkRefused, existing.ID, ident.Email)
		} else if !errors.Is(err, db.ErrNotFound) {
			return err
		}
	}
	return fmt.Errorf("%w: the GitHub account has no verified primary email", ErrNoAccount)
}
