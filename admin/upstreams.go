package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"idp/upstreams"
)

// Upstream is an upstream as the CLI's --json and the admin API show it,
// in the names of `idp upstreams list --json`. The client secret is
// write-only: only HasSecret says whether there is one. The endpoint fields
// are those of the upstream's kind; ClaimMapping is the mapping of sub,
// email, email_verified and name in the syntax of --claim-mapping (roles
// have fields of their own).
type Upstream struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Issuer         string   `json:"issuer,omitempty"`
	AuthURL        string   `json:"auth_url,omitempty"`
	TokenURL       string   `json:"token_url,omitempty"`
	UserinfoURL    string   `json:"userinfo_url,omitempty"`
	GitHubURL      string   `json:"github_url,omitempty"`
	ClientID       string   `json:"client_id"`
	HasSecret      bool     `json:"has_secret"`
	ClaimMapping   string   `json:"claim_mapping"`
	Scopes         []string `json:"scopes"`
	AllowedDomains []string `json:"allowed_domains"`
	LinkByEmail    bool     `json:"link_by_email"`
	JIT            bool     `json:"jit"`
	RolesClaim     string   `json:"roles_claim"`
	RolesPrefix    string   `json:"roles_prefix"`
	RequiredGroup  string   `json:"required_group"`
	// RedirectURI is what to register for idp at the upstream.
	RedirectURI string `json:"redirect_uri"`
	// LinkedAccounts is how many idp accounts are linked through it.
	LinkedAccounts int64 `json:"linked_accounts"`
	Created        Time  `json:"created_at"`
	Updated        Time  `json:"updated_at"`
}

// FieldMapping is the claim mapping of m for sub, email, email_verified
// and name, as --claim-mapping takes it; empty when all are the kind's
// defaults.
func FieldMapping(m upstreams.ClaimMapping) string {
	return upstreams.ClaimMapping{Sub: m.Sub, Email: m.Email, EmailVerified: m.EmailVerified, Name: m.Name}.String()
}

// UpstreamView is the view of u, with linked accounts linked through it.
func (s *Service) UpstreamView(u *upstreams.Upstream, linked int64) Upstream {
	return Upstream{ID: u.ID, Name: u.Name, Kind: u.Kind, Issuer: u.Issuer, AuthURL: u.AuthURL, TokenURL: u.TokenURL,
		UserinfoURL: u.UserinfoURL, GitHubURL: u.GitHubURL, ClientID: u.ClientID, HasSecret: len(u.SecretSealed) > 0,
		ClaimMapping: FieldMapping(u.Claims), Scopes: nonNil(u.Scopes), AllowedDomains: nonNil(u.AllowedDomains),
		LinkByEmail: u.LinkByEmail, JIT: u.JIT, RolesClaim: u.Claims.RolesClaim, RolesPrefix: u.Claims.RolesPrefix,
		RequiredGroup: u.Claims.RequiredGroup, RedirectURI: s.upstreams.RedirectURI(u.ID), LinkedAccounts: linked,
		Created: Time{u.CreatedAt}, Updated: Time{u.UpdatedAt}}
}

// UpstreamViews lists the upstreams as views, with their linked accounts.
func (s *Service) UpstreamViews(ctx context.Context) ([]Upstream, error) {
	list, err := s.upstreams.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list upstreams: %w", err)
	}
	counts, err := s.UpstreamLinkCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("count upstream links: %w", err)
	}
	out := make([]Upstream, len(list))
	for i, u := range list {
		out[i] = s.UpstreamView(u, counts[u.ID])
	}
	return out, nil
}

// Upstreams lists the providers people may sign in with.
func (s *Service) Upstreams(ctx context.Context) ([]*upstreams.Upstream, error) {
	return s.upstreams.List(ctx)
}

// Upstream returns one upstream; an unknown id is ErrNotFound. Its sealed
// secret is in the value, for HasSecret: adapters never show it.
func (s *Service) Upstream(ctx context.Context, id string) (*upstreams.Upstream, error) {
	u, err := s.upstreams.Store().ByID(ctx, id)
	if err != nil {
		return nil, mapErr(err)
	}
	return u, nil
}

// UpstreamLinkCounts returns how many accounts are linked through each
// upstream, by id (absent: none).
func (s *Service) UpstreamLinkCounts(ctx context.Context) (map[string]int64, error) {
	return s.upstreams.Store().LinkCounts(ctx)
}

// UpstreamRedirectURI is the redirect URI to register for idp at upstream
// id: the admin pages and the API show it beside every upstream, since
// the upstream refuses idp until it is registered there.
func (s *Service) UpstreamRedirectURI(id string) string { return s.upstreams.RedirectURI(id) }

// upstreamErr maps the upstreams package's refusals to the admin ones: a
// broken rule becomes *InvalidError in the package's own words (without
// its "invalid upstream:" prefix, so a form can show them).
func upstreamErr(what string, err error) error {
	if errors.Is(err, upstreams.ErrInvalid) {
		return &InvalidError{Reason: strings.TrimPrefix(err.Error(), upstreams.ErrInvalid.Error()+": ")}
	}
	return fmt.Errorf("%s: %w", what, mapErr(err))
}

// CreateUpstream registers an upstream provider (its secret sealed by the
// upstreams package), audited. A taken id is ErrConflict, a spec that
// breaks a rule *InvalidError listing every problem.
func (s *Service) CreateUpstream(ctx context.Context, actor Actor, spec upstreams.Spec) (*upstreams.Upstream, error) {
	ctx = as(ctx, actor)
	u, err := s.upstreams.Create(ctx, spec)
	if errors.Is(err, upstreams.ErrInvalid) {
		// Create folds the insert's conflict on a taken id into
		// ErrInvalid; only the row being there tells the two apart (also
		// for the loser of two concurrent creates).
		if _, lookErr := s.upstreams.Store().ByID(ctx, spec.ID); lookErr == nil {
			return nil, tagged{ErrConflict, fmt.Errorf("an upstream with id %q already exists", spec.ID)}
		}
	}
	if err != nil {
		return nil, upstreamErr("create upstream", err)
	}
	s.record(ctx, "upstream.create", u.ID, "kind="+u.Kind+" endpoint="+cmp.Or(u.Issuer, u.AuthURL, u.GitHubURL, "https://github.com"))
	return u, nil
}

// UpdateUpstream changes an upstream, audited. An unknown id is
// ErrNotFound, a change that breaks a rule *InvalidError. The audit
// detail says whether the secret was replaced or removed (never the
// secret), since that changes how idp authenticates at the upstream.
func (s *Service) UpdateUpstream(ctx context.Context, actor Actor, id string, up upstreams.Update) (*upstreams.Upstream, error) {
	ctx = as(ctx, actor)
	u, err := s.upstreams.Update(ctx, id, up)
	if err != nil {
		return nil, upstreamErr("update upstream", err)
	}
	detail := ""
	switch {
	case up.Secret != nil && *up.Secret == "":
		detail = "secret=removed"
	case up.Secret != nil:
		detail = "secret=replaced"
	}
	s.record(ctx, "upstream.update", id, detail)
	return u, nil
}

// DeleteUpstream removes an upstream and its links (the users remain),
// audited. The upstream tokens the links kept are given back to it in the
// background (RFC 7009); the deletion does not wait for the upstream.
func (s *Service) DeleteUpstream(ctx context.Context, actor Actor, id string) error {
	ctx = as(ctx, actor)
	if err := s.upstreams.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete upstream: %w", mapErr(err))
	}
	s.record(ctx, "upstream.delete", id, "")
	return nil
}
