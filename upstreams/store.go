package upstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store is the upstreams, upstream_links and upstream_states tables of
// migrations/*/00020_upstreams.sql (and 00021_upstream_oauth2.sql).
type Store struct{ gdb *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{gdb: g} }

type upstreamRow struct {
	ID             string    `gorm:"column:id;primaryKey"`
	Name           string    `gorm:"column:name"`
	Kind           string    `gorm:"column:kind"`
	Issuer         string    `gorm:"column:issuer"`
	ClientID       string    `gorm:"column:client_id"`
	AuthURL        string    `gorm:"column:auth_url"`
	TokenURL       string    `gorm:"column:token_url"`
	UserinfoURL    string    `gorm:"column:userinfo_url"`
	GitHubURL      string    `gorm:"column:github_url"`
	ClaimMapping   string    `gorm:"column:claim_mapping"`
	SecretSealed   []byte    `gorm:"column:secret_sealed"`
	Scopes         string    `gorm:"column:scopes"`
	AllowedDomains string    `gorm:"column:allowed_domains"`
	LinkByEmail    bool      `gorm:"column:link_by_email"`
	JIT            bool      `gorm:"column:jit"`
	RolesClaim     string    `gorm:"column:roles_claim"`
	RolesPrefix    string    `gorm:"column:roles_prefix"`
	RequiredGroup  string    `gorm:"column:required_group"`
	CreatedAt      time.Time `gorm:"column:created_at"`
	UpdatedAt      time.Time `gorm:"column:updated_at"`
}

func (upstreamRow) TableName() string { return "upstreams" }

func toRow(u *Upstream) upstreamRow {
	scopes, _ := json.Marshal(nonNil(u.Scopes))
	domains, _ := json.Marshal(nonNil(u.AllowedDomains))
	mapping, _ := json.Marshal(u.Claims.fields())
	return upstreamRow{ID: u.ID, Name: u.Name, Kind: u.Kind, Issuer: u.Issuer, ClientID: u.ClientID,
		AuthURL: u.AuthURL, TokenURL: u.TokenURL, UserinfoURL: u.UserinfoURL, GitHubURL: u.GitHubURL, ClaimMapping: string(mapping),
		SecretSealed: u.SecretSealed, Scopes: string(scopes), AllowedDomains: string(domains),
		LinkByEmail: u.LinkByEmail, JIT: u.JIT, RolesClaim: u.Claims.RolesClaim, RolesPrefix: u.Claims.RolesPrefix,
		RequiredGroup: u.Claims.RequiredGroup, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r *upstreamRow) upstream() (*Upstream, error) {
	u := &Upstream{ID: r.ID, Name: r.Name, Kind: r.Kind, Issuer: r.Issuer, ClientID: r.ClientID,
		AuthURL: r.AuthURL, TokenURL: r.TokenURL, UserinfoURL: r.UserinfoURL, GitHubURL: r.GitHubURL,
		LinkByEmail: r.LinkByEmail, JIT: r.JIT, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Claims: ClaimMapping{RolesClaim: r.RolesClaim, RolesPrefix: r.RolesPrefix, RequiredGroup: r.RequiredGroup}}
	if len(r.SecretSealed) > 0 {
		u.SecretSealed = r.SecretSealed
	}
	if err := json.Unmarshal([]byte(r.Scopes), &u.Scopes); err != nil {
		return nil, fmt.Errorf("decode upstream %q scopes: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.AllowedDomains), &u.AllowedDomains); err != nil {
		return nil, fmt.Errorf("decode upstream %q domains: %w", r.ID, err)
	}
	var mapping map[string]string
	if err := json.Unmarshal([]byte(r.ClaimMapping), &mapping); err != nil {
		return nil, fmt.Errorf("decode upstream %q claim mapping: %w", r.ID, err)
	}
	delete(mapping, FieldRoles) // roles has its own column
	u.Claims.Map(mapping)
	return u, nil
}

func unknown(id string) error {
	return fmt.Errorf("upstream %q: %w (%w)", id, ErrUnknown, db.ErrNotFound)
}

func (s *Store) create(ctx context.Context, u *Upstream) error {
	row := toRow(u)
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("create upstream %q: %w", u.ID, db.Map(err))
	}
	return nil
}

func (s *Store) update(ctx context.Context, u *Upstream) error {
	row := toRow(u)
	res := db.Conn(ctx, s.gdb).Model(&upstreamRow{}).Where("id = ?", u.ID).Select("*").Omit("id", "created_at").Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update upstream %q: %w", u.ID, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return unknown(u.ID)
	}
	return nil
}

// delete removes upstream id with its links and pending sign-ins, and
// returns the grants those links kept (grant_store.go), for the caller to
// give back to the upstream.
func (s *Store) delete(ctx context.Context, id string) ([]keptGrant, error) {
	var kept []keptGrant
	err := db.Tx(ctx, s.gdb, func(ctx context.Context) error {
		// SQLite enforces the cascade only with foreign keys on; delete the
		// dependants explicitly so both dialects agree.
		c := db.Conn(ctx, s.gdb)
		var err error
		if kept, err = s.keptGrants(ctx, id); err != nil {
			return err
		}
		if err := c.Where("upstream_id = ?", id).Delete(&linkRow{}).Error; err != nil {
			return db.Map(err)
		}
		if err := c.Where("upstream_id = ?", id).Delete(&stateRow{}).Error; err != nil {
			return db.Map(err)
		}
		res := c.Where("id = ?", id).Delete(&upstreamRow{})
		if res.Error != nil {
			return fmt.Errorf("delete upstream %q: %w", id, db.Map(res.Error))
		}
		if res.RowsAffected == 0 {
			return unknown(id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return kept, nil
}

// ByID returns one upstream, or an error matching ErrUnknown.
func (s *Store) ByID(ctx context.Context, id string) (*Upstream, error) {
	var row upstreamRow
	if err := db.Conn(ctx, s.gdb).Where("id = ?", id).Take(&row).Error; err != nil {
		if err = db.Map(err); errors.Is(err, db.ErrNotFound) {
			return nil, unknown(id)
		}
		return nil, fmt.Errorf("upstream %q: %w", id, err)
	}
	return row.upstream()
}

// List returns every upstream by id.
func (s *Store) List(ctx context.Context) ([]*Upstream, error) {
	var rows []upstreamRow
	if err := db.Conn(ctx, s.gdb).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list upstreams: %w", db.Map(err))
	}
	out := make([]*Upstream, 0, len(rows))
	for i := range rows {
		u, err := rows[i].upstream()
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// Link ties one upstream account to one idp user.
type Link struct {
	UpstreamID, Subject, UserID string
	// Email is the upstream's address at the last sign-in, for the
	// account page.
	Email                 string
	CreatedAt, LastUsedAt time.Time
}

type linkRow struct {
	UpstreamID  string    `gorm:"column:upstream_id;primaryKey"`
	UpstreamSub string    `gorm:"column:upstream_sub;primaryKey"`
	UserID      string    `gorm:"column:user_id"`
	Email       string    `gorm:"column:email"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	LastUsedAt  time.Time `gorm:"column:last_used_at"`
	// TokenSealed and CheckedAt: grant_store.go.
	TokenSealed []byte     `gorm:"column:token_sealed"`
	CheckedAt   *time.Time `gorm:"column:checked_at"`
}

func (linkRow) TableName() string { return "upstream_links" }

func (r *linkRow) link() *Link {
	return &Link{UpstreamID: r.UpstreamID, Subject: r.UpstreamSub, UserID: r.UserID, Email: r.Email,
		CreatedAt: r.CreatedAt.UTC(), LastUsedAt: r.LastUsedAt.UTC()}
}

// createLink stores l; a second link of the same upstream account is
// db.ErrConflict (the primary key is the lock).
func (s *Store) createLink(ctx context.Context, l *Link) error {
	row := linkRow{UpstreamID: l.UpstreamID, UpstreamSub: l.Subject, UserID: l.UserID, Email: l.Email,
		CreatedAt: l.CreatedAt.UTC(), LastUsedAt: l.LastUsedAt.UTC()}
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("link upstream account: %w", db.Map(err))
	}
	return nil
}

// link returns the link of an upstream account, or db.ErrNotFound.
func (s *Store) link(ctx context.Context, upstreamID, sub string) (*Link, error) {
	var row linkRow
	err := db.Conn(ctx, s.gdb).Where("upstream_id = ? AND upstream_sub = ?", upstreamID, sub).Take(&row).Error
	if err != nil {
		return nil, fmt.Errorf("upstream link: %w", db.Map(err))
	}
	return row.link(), nil
}

func (s *Store) touchLink(ctx context.Context, upstreamID, sub, email string, at time.Time) error {
	err := db.Conn(ctx, s.gdb).Model(&linkRow{}).Where("upstream_id = ? AND upstream_sub = ?", upstreamID, sub).
		Updates(map[string]any{"email": email, "last_used_at": at.UTC()}).Error
	return db.Map(err)
}

// LinksOf returns the upstream accounts linked to user id.
func (s *Store) LinksOf(ctx context.Context, userID string) ([]*Link, error) {
	var rows []linkRow
	if err := db.Conn(ctx, s.gdb).Where("user_id = ?", userID).Order("upstream_id, created_at").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("links of user: %w", db.Map(err))
	}
	out := make([]*Link, len(rows))
	for i := range rows {
		out[i] = rows[i].link()
	}
	return out, nil
}

// pending is one sign-in in progress at an upstream.
type pending struct {
	UpstreamID, Nonce, Verifier, RequestID, Next string
	ExpiresAt                                    time.Time
}

type stateRow struct {
	StateHash    string    `gorm:"column:state_hash;primaryKey"`
	UpstreamID   string    `gorm:"column:upstream_id"`
	Nonce        string    `gorm:"column:nonce"`
	CodeVerifier string    `gorm:"column:code_verifier"`
	RequestID    string    `gorm:"column:request_id"`
	Next         string    `gorm:"column:next"`
	ExpiresAt    time.Time `gorm:"column:expires_at"`
}

func (stateRow) TableName() string { return "upstream_states" }

func (s *Store) saveState(ctx context.Context, hash string, p *pending) error {
	row := stateRow{StateHash: hash, UpstreamID: p.UpstreamID, Nonce: p.Nonce, CodeVerifier: p.Verifier,
		RequestID: p.RequestID, Next: p.Next, ExpiresAt: p.ExpiresAt.UTC()}
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("save upstream state: %w", db.Map(err))
	}
	return nil
}

// takeState returns and deletes the state with hash: whoever deletes the
// row owns it, so a replayed callback finds nothing (RowsAffected, not a
// lock, decides between two racing callbacks on both dialects).
func (s *Store) takeState(ctx context.Context, hash string, now time.Time) (*pending, error) {
	var row stateRow
	c := db.Conn(ctx, s.gdb)
	if err := c.Where("state_hash = ?", hash).Take(&row).Error; err != nil {
		return nil, db.Map(err)
	}
	res := c.Where("state_hash = ?", hash).Delete(&stateRow{})
	if res.Error != nil {
		return nil, db.Map(res.Error)
	}
	if res.RowsAffected != 1 || !now.Before(row.ExpiresAt) {
		return nil, db.ErrNotFound
	}
	return &pending{UpstreamID: row.UpstreamID, Nonce: row.Nonce, Verifier: row.CodeVerifier,
		RequestID: row.RequestID, Next: row.Next, ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// DeleteExpired forgets at most limit abandoned sign-ins.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.gdb, &stateRow{}, "state_hash", limit, "expires_at <= ?", now.UTC())
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.Tx(ctx, s.gdb, fn)
}
