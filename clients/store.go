package clients

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store reads and writes the clients table. It does no validation: callers
// register clients through Service.Create. Every method runs in the
// transaction carried by ctx, if any (db.Tx).
type Store struct {
	gdb   *gorm.DB
	cache cache
}

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{gdb: g} }

// clientRow is the clients table as in migrations/*/00001_init.sql. The
// list columns hold JSON arrays of strings, which both dialects store as
// TEXT, so no dialect-specific array type is needed.
type clientRow struct {
	ID                     string     `gorm:"column:id;primaryKey"`
	Name                   string     `gorm:"column:name"`
	Public                 bool       `gorm:"column:public"`
	SecretHash             []byte     `gorm:"column:secret_hash"`
	SecretSealed           []byte     `gorm:"column:secret_sealed"`
	RedirectURIs           string     `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs string     `gorm:"column:post_logout_redirect_uris"`
	GrantTypes             string     `gorm:"column:grant_types"`
	Scopes                 string     `gorm:"column:scopes"`
	SigningAlg             string     `gorm:"column:signing_alg"`
	Trusted                bool       `gorm:"column:trusted"`
	RequireMFA             bool       `gorm:"column:require_mfa"`
	RequireVerifiedEmail   bool       `gorm:"column:require_verified_email"`
	LogoURI                string     `gorm:"column:logo_uri"`
	ClientURI              string     `gorm:"column:client_uri"`
	PolicyURI              string     `gorm:"column:policy_uri"`
	TOSURI                 string     `gorm:"column:tos_uri"`
	Contacts               string     `gorm:"column:contacts"`
	ApplicationType        string     `gorm:"column:application_type"`
	TokenAuthMethod        string     `gorm:"column:token_endpoint_auth_method"`
	DefaultMaxAge          int        `gorm:"column:default_max_age"`
	RequireAuthTime        bool       `gorm:"column:require_auth_time"`
	DPoPBound              bool       `gorm:"column:dpop_bound_access_tokens"`
	JWKS                   string     `gorm:"column:jwks"`
	JWKSURI                string     `gorm:"column:jwks_uri"`
	BackchannelLogoutURI   string     `gorm:"column:backchannel_logout_uri"`
	BackchannelSessionReq  bool       `gorm:"column:backchannel_logout_session_required"`
	FrontchannelLogoutURI  string     `gorm:"column:frontchannel_logout_uri"`
	FrontchannelSessionReq bool       `gorm:"column:frontchannel_logout_session_required"`
	DefaultResource        string     `gorm:"column:default_resource"`
	RequirePAR             bool       `gorm:"column:require_par"`
	Registration           string     `gorm:"column:registration"`
	RegistrationTokenHash  []byte     `gorm:"column:registration_token_hash"`
	LastUsedAt             *time.Time `gorm:"column:last_used_at"`
	CreatedAt              time.Time  `gorm:"column:created_at"`
	UpdatedAt              time.Time  `gorm:"column:updated_at"`
}

// TableName tells GORM the table name; it is not derived from the type.
func (clientRow) TableName() string { return "clients" }

// Create inserts c. A taken id gives an error wrapping db.ErrConflict.
// Zero timestamps are set to the current time.
func (s *Store) Create(ctx context.Context, c *Client) error {
	row, err := toRow(c)
	if err != nil {
		return err
	}
	if row.CreatedAt.IsZero() {
		row.CreatedAt = time.Now().UTC()
	}
	if row.UpdatedAt.IsZero() {
		row.UpdatedAt = row.CreatedAt
	}
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, db.Map(err))
	}
	return nil
}

// ByID returns the client with the given id, or an error wrapping
// db.ErrNotFound. It is on every token request: outside a transaction it
// answers from memory while the client change counter stands still
// (cache.go); inside one it reads the row, which the transaction may
// have changed.
func (s *Store) ByID(ctx context.Context, id string) (*Client, error) {
	if db.InTx(ctx) {
		return s.read(ctx, id)
	}
	return s.cached(ctx, id)
}

// read reads the client's row, scanning it by hand instead of going
// through GORM's reflection-driven callbacks.
func (s *Store) read(ctx context.Context, id string) (*Client, error) {
	var r clientRow
	err := db.QueryRow(ctx, s.gdb, `SELECT id, name, public, secret_hash, secret_sealed, redirect_uris, post_logout_redirect_uris,
		grant_types, scopes, signing_alg, trusted, require_mfa, require_verified_email, logo_uri, client_uri, policy_uri, tos_uri, contacts,
		application_type, token_endpoint_auth_method, default_max_age, require_auth_time, jwks, jwks_uri, default_resource, registration,
		registration_token_hash, last_used_at, created_at, updated_at, require_par,
		backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri, frontchannel_logout_session_required, dpop_bound_access_tokens
		FROM clients WHERE id = ?`, id).Scan(
		&r.ID, &r.Name, &r.Public, &r.SecretHash, &r.SecretSealed, &r.RedirectURIs, &r.PostLogoutRedirectURIs,
		&r.GrantTypes, &r.Scopes, &r.SigningAlg, &r.Trusted, &r.RequireMFA, &r.RequireVerifiedEmail, &r.LogoURI, &r.ClientURI, &r.PolicyURI,
		&r.TOSURI, &r.Contacts, &r.ApplicationType, &r.TokenAuthMethod, &r.DefaultMaxAge, &r.RequireAuthTime,
		&r.JWKS, &r.JWKSURI, &r.DefaultResource, &r.Registration, &r.RegistrationTokenHash, &r.LastUsedAt, &r.CreatedAt, &r.UpdatedAt, &r.RequirePAR,
		&r.BackchannelLogoutURI, &r.BackchannelSessionReq, &r.FrontchannelLogoutURI, &r.FrontchannelSessionReq, &r.DPoPBound)
	if err != nil {
		return nil, fmt.Errorf("client %q: %w", id, db.ScanErr(s.gdb, err))
	}
	return r.client()
}

// List returns every client ordered by id. The order is byte order,
// applied in Go, because PostgreSQL's ORDER BY follows the database
// collation and would differ from SQLite's.
func (s *Store) List(ctx context.Context) ([]Client, error) {
	var rows []clientRow
	if err := db.Conn(ctx, s.gdb).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list clients: %w", db.Map(err))
	}
	out := make([]Client, 0, len(rows))
	for i := range rows {
		c, err := rows[i].client()
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Update replaces every column of the client c.ID but its id and
// created_at, or returns an error wrapping db.ErrNotFound.
func (s *Store) Update(ctx context.Context, c *Client) error {
	row, err := toRow(c)
	if err != nil {
		return err
	}
	res := db.Conn(ctx, s.gdb).Model(&clientRow{}).Where("id = ?", c.ID).Select("*").Omit("id", "created_at").Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update client %q: %w", c.ID, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update client %q: %w", c.ID, db.ErrNotFound)
	}
	return nil
}

// setSecret replaces a client's secret hash and sealed secret.
func (s *Store) setSecret(ctx context.Context, id string, hash, sealed []byte, at time.Time) error {
	res := db.Conn(ctx, s.gdb).Model(&clientRow{}).Where("id = ?", id).
		Updates(map[string]any{"secret_hash": hash, "secret_sealed": sealed, "updated_at": at.UTC()})
	if res.Error != nil {
		return fmt.Errorf("set secret of client %q: %w", id, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set secret of client %q: %w", id, db.ErrNotFound)
	}
	return nil
}

// Delete removes the client with the given id, or returns an error
// wrapping db.ErrNotFound if there is none.
func (s *Store) Delete(ctx context.Context, id string) error {
	res := db.Conn(ctx, s.gdb).Where("id = ?", id).Delete(&clientRow{})
	if res.Error != nil {
		return fmt.Errorf("delete client %q: %w", id, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete client %q: %w", id, db.ErrNotFound)
	}
	return nil
}

func toRow(c *Client) (clientRow, error) {
	row := clientRow{
		ID: c.ID, Name: c.Name, Public: c.Public, SecretHash: c.SecretHash, SecretSealed: c.SecretSealed,
		SigningAlg: c.SigningAlg, Trusted: c.Trusted, RequireMFA: c.RequireMFA, RequireVerifiedEmail: c.RequireVerifiedEmail,
		LogoURI: c.LogoURI, ClientURI: c.ClientURI, PolicyURI: c.PolicyURI, TOSURI: c.TOSURI,
		ApplicationType: c.ApplicationType, TokenAuthMethod: c.TokenEndpointAuthMethod,
		DefaultMaxAge: c.DefaultMaxAge, RequireAuthTime: c.RequireAuthTime, JWKS: c.JWKS, JWKSURI: c.JWKSURI, DefaultResource: c.DefaultResource,
		RequirePAR:   c.RequirePAR,
		DPoPBound:    c.DPoPBoundAccessTokens,
		Registration: c.Registration, RegistrationTokenHash: c.RegistrationTokenHash, LastUsedAt: utcPtr(c.LastUsedAt),
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelSessionReq: c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: c.FrontchannelLogoutURI, FrontchannelSessionReq: c.FrontchannelLogoutSessionRequired,
	}
	var err error
	for _, f := range []struct {
		dst *string
		src []string
	}{
		{&row.RedirectURIs, c.RedirectURIs},
		{&row.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs},
		{&row.GrantTypes, c.GrantTypes},
		{&row.Scopes, c.Scopes},
		{&row.Contacts, c.Contacts},
	} {
		*f.dst, err = encodeList(f.src)
		if err != nil {
			return clientRow{}, fmt.Errorf("encode client %q: %w", c.ID, err)
		}
	}
	return row, nil
}

func (r *clientRow) client() (*Client, error) {
	c := &Client{
		ID: r.ID, Name: r.Name, Public: r.Public, SecretHash: r.SecretHash, SecretSealed: r.SecretSealed,
		SigningAlg: r.SigningAlg, Trusted: r.Trusted, RequireMFA: r.RequireMFA, RequireVerifiedEmail: r.RequireVerifiedEmail,
		Metadata: Metadata{LogoURI: r.LogoURI, ClientURI: r.ClientURI, PolicyURI: r.PolicyURI, TOSURI: r.TOSURI,
			ApplicationType: r.ApplicationType, TokenEndpointAuthMethod: r.TokenAuthMethod,
			DefaultMaxAge: r.DefaultMaxAge, RequireAuthTime: r.RequireAuthTime, JWKS: r.JWKS, JWKSURI: r.JWKSURI,
			Logout: Logout{BackchannelLogoutURI: r.BackchannelLogoutURI, BackchannelLogoutSessionRequired: r.BackchannelSessionReq,
				FrontchannelLogoutURI: r.FrontchannelLogoutURI, FrontchannelLogoutSessionRequired: r.FrontchannelSessionReq},
			DefaultResource: r.DefaultResource, RequirePAR: r.RequirePAR, DPoPBoundAccessTokens: r.DPoPBound},
		Registration: r.Registration, RegistrationTokenHash: r.RegistrationTokenHash, LastUsedAt: utcPtr(r.LastUsedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	var errs []error
	for _, f := range []struct {
		dst *[]string
		src string
	}{
		{&c.RedirectURIs, r.RedirectURIs},
		{&c.PostLogoutRedirectURIs, r.PostLogoutRedirectURIs},
		{&c.GrantTypes, r.GrantTypes},
		{&c.Scopes, r.Scopes},
		{&c.Contacts, r.Contacts},
	} {
		errs = append(errs, json.Unmarshal([]byte(f.src), f.dst))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decode client %q: %w", r.ID, err)
	}
	if len(c.Contacts) == 0 {
		c.Contacts = nil // most clients have none; nil is what Go code writes for none
	}
	return c, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// encodeList stores a nil list as [] so the NOT NULL columns never hold
// JSON null.
func encodeList(l []string) (string, error) {
	if l == nil {
		l = []string{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}
