package tokens

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"idp/db"
)

type authRequestRow struct {
	ID                  string `gorm:"primaryKey"`
	ClientID            string
	RedirectURI         string
	ResponseMode        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	MaxAge              *int
	LoginHint           string
	ACRValues           string
	Resources           []string `gorm:"serializer:json"`
	DPoPJKT             string   `gorm:"column:dpop_jkt"`
	LoggedInAt          *time.Time
	CreatedAt           time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt           time.Time
}

func (authRequestRow) TableName() string { return "auth_requests" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (r *authRequestRow) utc() { inUTC(r.LoggedInAt, &r.CreatedAt, &r.ExpiresAt) }

type codeRow struct {
	CodeHash            string `gorm:"primaryKey"`
	ClientID            string
	UserID              string
	SessionID           string
	RedirectURI         string
	Scope               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Resources           []string `gorm:"serializer:json"`
	AuthTime            time.Time
	CreatedAt           time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt           time.Time
	UsedAt              *time.Time
	AccessJTI           string `gorm:"column:access_jti"`
	AccessExpiresAt     *time.Time
	RefreshFamily       string
	AMR                 string `gorm:"column:amr"`
	ACR                 string `gorm:"column:acr"`
	DPoPJKT             string `gorm:"column:dpop_jkt"` // RFC 9449 §10
	UpstreamID          string `gorm:"column:upstream_id"`
	UpstreamSub         string `gorm:"column:upstream_sub"`
}

func (codeRow) TableName() string { return "auth_codes" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (r *codeRow) utc() { inUTC(&r.AuthTime, &r.CreatedAt, &r.ExpiresAt, r.UsedAt, r.AccessExpiresAt) }

type consentRow struct {
	UserID    string    `gorm:"primaryKey"`
	ClientID  string    `gorm:"primaryKey"`
	Scopes    []string  `gorm:"serializer:json"`
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (consentRow) TableName() string { return "consents" }

type revokedRow struct {
	JTI       string `gorm:"column:jti;primaryKey"`
	ExpiresAt time.Time
}

func (revokedRow) TableName() string { return "revoked_tokens" }

// inUTC puts each time in UTC, skipping nil ones; the rows' utc methods
// call it on every row read back. PostgreSQL (pgx) returns timestamptz in
// time.Local, and what the Store returns is in UTC whatever the dialect
// and the server's zone, as users and clients are.
//
// Every time the Store passes to SQL goes in UTC too, written or compared:
// SQLite compares DATETIME columns as text and mattn/go-sqlite3 binds a
// time.Time in its own zone, so only times all in UTC compare as instants.
func inUTC(ts ...*time.Time) {
	for _, t := range ts {
		if t != nil {
			*t = t.UTC()
		}
	}
}

// codeRetention is how long a code row outlives its expiry.
const codeRetention = 24 * time.Hour

// Store persists the issued artefacts of this package.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// tx runs fn in one transaction shared by every store that joins ctx.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.Tx(ctx, s.g, fn)
}

// createAuthRequest inserts a pending authorization request.
func (s *Store) createAuthRequest(ctx context.Context, r *authRequestRow) error {
	r.utc()
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// authRequest finds a pending request by id, expired or not.
func (s *Store) authRequest(ctx context.Context, id string) (*authRequestRow, error) {
	var r authRequestRow
	if err := db.Map(db.Conn(ctx, s.g).Where("id = ?", id).Take(&r).Error); err != nil {
		return nil, err
	}
	r.utc()
	return &r, nil
}

// MarkLoggedIn records that the user signed in for request id.
func (s *Store) MarkLoggedIn(ctx context.Context, id string, at time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Model(&authRequestRow{}).Where("id = ?", id).Update("logged_in_at", at.UTC()).Error)
}

// DeleteAuthRequest removes a request once it is answered; it reports
// whether this call removed it, so a double submit issues one code.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) (bool, error) {
	res := db.Conn(ctx, s.g).Where("id = ?", id).Delete(&authRequestRow{})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// createCode inserts an authorization code.
func (s *Store) createCode(ctx context.Context, c *codeRow) error {
	c.utc()
	return db.Map(db.Conn(ctx, s.g).Create(c).Error)
}

// code finds a code by hash.
func (s *Store) code(ctx context.Context, hash string) (*codeRow, error) {
	var r codeRow
	if err := db.Map(db.Conn(ctx, s.g).Where("code_hash = ?", hash).Take(&r).Error); err != nil {
		return nil, err
	}
	r.utc()
	return &r, nil
}

// ClaimCode marks a code used and records what its redemption issues, in
// one conditional update: of any number of concurrent redeemers exactly one
// sees true.
func (s *Store) ClaimCode(ctx context.Context, hash string, now time.Time, jti string, accessExp time.Time, family string) (bool, error) {
	now, accessExp = now.UTC(), accessExp.UTC()
	res := db.Conn(ctx, s.g).Model(&codeRow{}).
		Where("code_hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).
		Updates(map[string]any{"used_at": now, "access_jti": jti, "access_expires_at": accessExp, "refresh_family": family})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// Consent returns the scopes a user has approved for a client.
func (s *Store) Consent(ctx context.Context, userID, clientID string) ([]string, error) {
	var r consentRow
	err := db.Map(db.Conn(ctx, s.g).Where("user_id = ? AND client_id = ?", userID, clientID).Take(&r).Error)
	return r.Scopes, err
}

// SaveConsent stores the approved scopes (an upsert: the caller passes the
// union of old and new).
func (s *Store) SaveConsent(ctx context.Context, userID, clientID string, scopes []string, now time.Time) error {
	now = now.UTC()
	r := consentRow{UserID: userID, ClientID: clientID, Scopes: scopes, CreatedAt: now, UpdatedAt: now}
	return db.Map(db.Conn(ctx, s.g).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "updated_at"}),
	}).Create(&r).Error)
}

// DeleteConsent forgets a user's consent for a client.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return db.Map(db.Conn(ctx, s.g).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&consentRow{}).Error)
}

// RevokeJTI puts an access token on the denylist until it expires.
// Revoking twice is harmless.
func (s *Store) RevokeJTI(ctx context.Context, jti string, exp time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&revokedRow{JTI: jti, ExpiresAt: exp.UTC()}).Error)
}

// Revoked reports whether an access token's jti is on the denylist.
func (s *Store) Revoked(ctx context.Context, jti string) (bool, error) {
	var n int64
	err := db.Conn(ctx, s.g).Model(&revokedRow{}).Where("jti = ?", jti).Count(&n).Error
	return n > 0, db.Map(err)
}

// DeleteExpired purges up to limit expired rows from each table and
// reports how many went; small batches keep write locks short.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	now = now.UTC()
	var total int64
	purge := func(model any, key, cond string, cutoff time.Time) error {
		n, err := db.DeleteBatch(ctx, s.g, model, key, limit, cond, cutoff)
		total += n
		return err
	}
	if err := purge(&authRequestRow{}, "id", "expires_at <= ?", now); err != nil {
		return total, err
	}
	if err := purge(&pushedRow{}, "id_hash", "expires_at <= ?", now); err != nil {
		return total, err
	}
	// Codes are kept a day past expiry so a late replay is still recognised
	// and can revoke what the code issued.
	if err := purge(&codeRow{}, "code_hash", "expires_at <= ?", now.Add(-codeRetention)); err != nil {
		return total, err
	}
	err := purge(&revokedRow{}, "jti", "expires_at <= ?", now)
	return total, err
}
