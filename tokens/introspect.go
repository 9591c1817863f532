package tokens

import (
	"context"
	"errors"
	"slices"
	"time"

	"idp/clients"
	"idp/db"
	"idp/oauth"
)

// Introspection is an RFC 7662 §2.2 response. Inactive tokens carry only
// active=false, so a caller learns nothing about why.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       Audience `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	JTI       string   `json:"jti,omitempty"`
	Username  string   `json:"username,omitempty"`
	// Cnf is a DPoP-bound access token's key binding (RFC 9449 §6.2).
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Introspect reports whether a token is active for the calling client: a
// token counts only for the client it was issued to, or (access tokens) a
// client named in its audience. The hint only chooses the order of lookups.
func (s *Service) Introspect(ctx context.Context, caller *clients.Client, token, hint string) (*Introspection, error) {
	inactive := &Introspection{}
	if token == "" || len(token) > 8192 {
		return inactive, nil
	}
	access := func(ctx context.Context, caller *clients.Client, token string) (*Introspection, error) {
		return s.introspectAccess(ctx, token, func(c *AccessClaims) bool {
			return c.ClientID == caller.ID || c.Audience.Contains(caller.ID)
		})
	}
	lookups := []func(context.Context, *clients.Client, string) (*Introspection, error){access, s.introspectRefresh}
	if hint == "refresh_token" {
		slices.Reverse(lookups)
	}
	for _, f := range lookups {
		res, err := f(ctx, caller, token)
		if err != nil || res != nil {
			return res, err
		}
	}
	return inactive, nil
}

// IntrospectForResource is introspection by a registered resource (an
// API authenticated with its own credentials): an access token is active
// for it only when its aud names the resource; refresh tokens, which no
// API should hold, never are.
func (s *Service) IntrospectForResource(ctx context.Context, resource, token string) (*Introspection, error) {
	if token == "" || len(token) > 8192 {
		return &Introspection{}, nil
	}
	res, err := s.introspectAccess(ctx, token, func(c *AccessClaims) bool { return c.Audience.Contains(resource) })
	if res == nil && err == nil {
		res = &Introspection{}
	}
	return res, err
}

// introspectAccess returns nil when token is not an access token at all,
// and an inactive answer when the caller may not know it (mayKnow false).
func (s *Service) introspectAccess(ctx context.Context, token string, mayKnow func(*AccessClaims) bool) (*Introspection, error) {
	if _, err := s.parseAccess(ctx, token); err != nil {
		return nil, nil
	}
	c, err := s.VerifyAccessToken(ctx, token)
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return &Introspection{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !mayKnow(c) {
		return &Introspection{}, nil
	}
	res := &Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "access_token",
		Exp: c.ExpiresAt, Iat: c.IssuedAt, Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, JTI: c.JTI, Cnf: c.Cnf}
	if c.Subject != c.ClientID { // a user's token: the user must still be active
		u, err := s.users.ByID(ctx, c.Subject)
		if err != nil || u.Disabled {
			return &Introspection{}, nil
		}
		res.Username = u.Email
	}
	return res, nil
}

// introspectRefresh returns nil when token is not a refresh token.
func (s *Service) introspectRefresh(ctx context.Context, caller *clients.Client, token string) (*Introspection, error) {
	row, fam, err := s.store.refresh(ctx, oauth.HashSecret(token))
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if fam.ClientID != caller.ID || fam.RevokedAt != nil || row.UsedAt != nil ||
		!now.Before(fam.ExpiresAt) || !now.Before(row.IdleExpiresAt) {
		return &Introspection{}, nil
	}
	u, err := s.users.ByID(ctx, fam.UserID)
	if err != nil || u.Disabled {
		return &Introspection{}, nil
	}
	return &Introspection{Active: true, Scope: fam.Scope, ClientID: fam.ClientID, TokenType: "refresh_token",
		Exp: row.IdleExpiresAt.Unix(), Iat: row.CreatedAt.Unix(), Sub: fam.UserID, Iss: s.cfg.Issuer,
		Username: u.Email}, nil
}

// GrantInfo is one live refresh family as the account page shows it.
type GrantInfo struct {
	ID, ClientID, IP, UserAgent string
	CreatedAt, LastUsedAt       time.Time
}

// Grants lists a user's live offline-access grants.
func (s *Service) Grants(ctx context.Context, userID string) ([]GrantInfo, error) {
	rows, err := s.store.userFamilies(ctx, userID, s.now())
	out := make([]GrantInfo, 0, len(rows))
	for _, f := range rows {
		out = append(out, GrantInfo{ID: f.ID, ClientID: f.ClientID, IP: f.IP, UserAgent: f.UserAgent,
			CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt})
	}
	return out, err
}

// RevokeGrant revokes one of the user's families; another user's is
// db.ErrNotFound.
func (s *Service) RevokeGrant(ctx context.Context, userID, familyID string) error {
	_, err := s.RevokeGrantBy(ctx, userID, familyID, "the user")
	return err
}

// RevokeGrantBy is RevokeGrant for someone other than the user (an
// administrator): by names them in the one family.revoked event. It
// reports whether this call revoked the family (false: it was revoked
// already).
func (s *Service) RevokeGrantBy(ctx context.Context, userID, familyID, by string) (bool, error) {
	f, err := s.store.family(ctx, familyID)
	if err != nil {
		return false, err
	}
	if f.UserID != userID {
		return false, db.ErrNotFound
	}
	revoked, err := s.store.revokeFamily(ctx, familyID, s.now())
	if revoked {
		s.audit(ctx, "family.revoked", familyID, "client="+f.ClientID+" user="+userID+" by "+by)
	}
	return revoked, err
}

// RevokeUserGrants revokes every family of a user ("sign out everywhere").
func (s *Service) RevokeUserGrants(ctx context.Context, userID string) error {
	rows, err := s.store.userFamilies(ctx, userID, s.now())
	if err != nil {
		return err
	}
	for _, f := range rows {
		revoked, err := s.store.revokeFamily(ctx, f.ID, s.now())
		if err != nil {
			return err
		}
		if revoked {
			s.audit(ctx, "family.revoked", f.ID, "client="+f.ClientID+" user="+userID+" sign out everywhere")
		}
	}
	return nil
}

// ClientCredentials issues an access token to a confidential client acting
// for itself (RFC 6749 §4.4): sub is the client, no ID or refresh token, and
// scopes only from the client's own, never the user scopes of OIDC, and
// only those the token's resources allow (invalid_scope for one asked for
// that they do not).
func (s *Service) ClientCredentials(ctx context.Context, client *clients.Client, scope string, resources []string) (*Response, error) {
	userScopes := []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeOfflineAccess, oauth.ScopeAdmin}
	var scopes []string
	if scope == "" {
		for _, sc := range client.Scopes {
			if !slices.Contains(userScopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	} else {
		req, ok := oauth.ParseScope(scope)
		if !ok {
			return nil, oauth.InvalidScope("scope contains a forbidden character")
		}
		for _, sc := range req {
			if slices.Contains(userScopes, sc) || !client.AllowsScope(sc) {
				return nil, oauth.InvalidScope("this client may not request scope " + sc + " for itself")
			}
		}
		scopes = req
	}
	resources = client.Audience(resources)
	terms, err := s.accessPolicy(ctx, client.SigningAlg, resources, s.now())
	if err != nil {
		return nil, err
	}
	// A scope asked for must be one the resources allow; the client's
	// default scopes shrink to those they allow.
	if scope != "" {
		if err := terms.check(scopes); err != nil {
			return nil, err
		}
	} else {
		scopes = terms.allowed(scopes)
	}
	g := &Grant{ClientID: client.ID, Scopes: scopes, Resources: resources, JTI: oauth.NewSecret(16),
		AccessExpiresAt: terms.exp, AccessAlg: terms.alg}
	return s.Mint(ctx, client.SigningAlg, g, nil)
}

// Purge deletes expired rows in batches of limit; it returns how many went.
func (s *Service) Purge(ctx context.Context, limit int) (int64, error) {
	n, err := s.store.DeleteExpired(ctx, s.now(), limit)
	if err != nil {
		return n, err
	}
	m, err := s.store.purgeRefresh(ctx, s.now(), limit)
	if err != nil {
		return n + m, err
	}
	d, err := s.store.purgeDevice(ctx, s.now(), limit)
	return n + m + d, err
}
