package tokens

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"idp/db"
)

type familyRow struct {
	ID         string `gorm:"primaryKey"`
	ClientID   string
	UserID     string
	SessionID  string
	Scope      string
	Resources  []string `gorm:"serializer:json"`
	AuthTime   time.Time
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	LastUsedAt time.Time
	ExpiresAt  time.Time
	IP         string `gorm:"column:ip"`
	UserAgent  string
	RevokedAt  *time.Time
	AMR        string `gorm:"column:amr"`
	ACR        string `gorm:"column:acr"`
	// DPoPJKT is the key a public client's family is bound to; "" unbound.
	DPoPJKT string `gorm:"column:dpop_jkt"`
	// UpstreamID and UpstreamSub name the upstream account the family was
	// signed in through; "" is no upstream to ask.
	UpstreamID  string `gorm:"column:upstream_id"`
	UpstreamSub string `gorm:"column:upstream_sub"`
}

func (familyRow) TableName() string { return "refresh_families" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (f *familyRow) utc() { inUTC(&f.AuthTime, &f.CreatedAt, &f.LastUsedAt, &f.ExpiresAt, f.RevokedAt) }

type refreshRow struct {
	TokenHash       string `gorm:"primaryKey"`
	FamilyID        string
	ParentHash      string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	IdleExpiresAt   time.Time
	UsedAt          *time.Time
	ChildSealed     []byte
	ChildUntil      *time.Time
	AccessJTI       string `gorm:"column:access_jti"`
	AccessExpiresAt time.Time
}

func (refreshRow) TableName() string { return "refresh_tokens" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (r *refreshRow) utc() {
	inUTC(&r.CreatedAt, &r.IdleExpiresAt, r.UsedAt, r.ChildUntil, &r.AccessExpiresAt)
}

// createFamily inserts a family and its first token.
func (s *Store) createFamily(ctx context.Context, f *familyRow, first *refreshRow) error {
	f.utc()
	if err := db.Map(db.Conn(ctx, s.g).Create(f).Error); err != nil {
		return err
	}
	return s.insertToken(ctx, first)
}

// refreshQuery loads a token and its family in one round trip.
const refreshQuery = `SELECT t.token_hash, t.family_id, t.parent_hash, t.created_at, t.idle_expires_at,
	t.used_at, t.child_sealed, t.child_until, t.access_jti, t.access_expires_at,
	f.id, f.client_id, f.user_id, f.session_id, f.scope, f.resources, f.auth_time,
	f.created_at, f.last_used_at, f.expires_at, f.ip, f.user_agent, f.revoked_at, f.amr, f.acr, f.dpop_jkt,
	f.upstream_id, f.upstream_sub
	FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
	WHERE t.token_hash = ?`

// refresh finds a refresh token and its family. It is on every
// refresh_token grant, so it joins the two rows and scans them by hand
// instead of going through GORM's reflection.
func (s *Store) refresh(ctx context.Context, hash string) (*refreshRow, *familyRow, error) {
	var (
		r                    refreshRow
		f                    familyRow
		used, until, revoked sql.NullTime
		resources            sql.NullString
	)
	err := db.QueryRow(ctx, s.g, refreshQuery, hash).Scan(
		&r.TokenHash, &r.FamilyID, &r.ParentHash, &r.CreatedAt, &r.IdleExpiresAt,
		&used, &r.ChildSealed, &until, &r.AccessJTI, &r.AccessExpiresAt,
		&f.ID, &f.ClientID, &f.UserID, &f.SessionID, &f.Scope, &resources, &f.AuthTime,
		&f.CreatedAt, &f.LastUsedAt, &f.ExpiresAt, &f.IP, &f.UserAgent, &revoked, &f.AMR, &f.ACR, &f.DPoPJKT,
		&f.UpstreamID, &f.UpstreamSub)
	if err != nil {
		return nil, nil, db.ScanErr(s.g, err)
	}
	r.UsedAt, r.ChildUntil, f.RevokedAt = timePtr(used), timePtr(until), timePtr(revoked)
	// The column holds JSON, as GORM's json serializer wrote it.
	if resources.Valid && resources.String != "" {
		if err := json.Unmarshal([]byte(resources.String), &f.Resources); err != nil {
			return nil, nil, fmt.Errorf("refresh family %s: decode resources: %w", f.ID, err)
		}
	}
	r.utc()
	f.utc()
	return &r, &f, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

// family finds a family by id.
func (s *Store) family(ctx context.Context, id string) (*familyRow, error) {
	var f familyRow
	if err := db.Map(db.Conn(ctx, s.g).Where("id = ?", id).Take(&f).Error); err != nil {
		return nil, err
	}
	f.utc()
	return &f, nil
}

// claimRefresh marks a refresh token used and stores the sealed response
// of this refresh in the same conditional update: of concurrent refreshers
// exactly one sees true, and the others then find the sealed child.
func (s *Store) claimRefresh(ctx context.Context, hash string, now time.Time, sealed []byte, until time.Time) (bool, error) {
	now, until = now.UTC(), until.UTC()
	n, err := db.Exec(ctx, s.g, `UPDATE refresh_tokens SET used_at = ?, child_sealed = ?, child_until = ?
		WHERE token_hash = ? AND used_at IS NULL AND NOT EXISTS
		(SELECT 1 FROM refresh_families f WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)`,
		now, sealed, until, hash)
	return n == 1, err
}

// holdFamily reports whether family id is still unrevoked, and holds it so
// until the caller's transaction ends: the no-op update takes PostgreSQL's
// row lock, so a revocation either commits first (and this reports false)
// or waits for the caller to commit (and then denylists the access token
// the caller issued). On SQLite the write transaction (BEGIN IMMEDIATE)
// already serialises, so a read does, without the no-op update's page in
// the WAL on every refresh. It must run inside tx, before claimRefresh.
func (s *Store) holdFamily(ctx context.Context, id string) (bool, error) {
	if db.OnSQLite(s.g) {
		var n int
		err := db.QueryRow(ctx, s.g, `SELECT COUNT(*) FROM refresh_families WHERE id = ? AND revoked_at IS NULL`, id).Scan(&n)
		return n == 1, db.ScanErr(s.g, err)
	}
	n, err := db.Exec(ctx, s.g, `UPDATE refresh_families SET revoked_at = NULL WHERE id = ? AND revoked_at IS NULL`, id)
	return n == 1, err
}

// touchFamily records a family's latest use and where it came from.
func (s *Store) touchFamily(ctx context.Context, id string, now time.Time, ip, ua string) error {
	_, err := db.Exec(ctx, s.g, `UPDATE refresh_families SET last_used_at = ?, ip = ?, user_agent = ? WHERE id = ?`,
		now.UTC(), ip, ua, id)
	return err
}

// insertToken inserts a fresh token: not used, no sealed child yet.
func (s *Store) insertToken(ctx context.Context, r *refreshRow) error {
	r.utc()
	_, err := db.Exec(ctx, s.g, `INSERT INTO refresh_tokens
		(token_hash, family_id, parent_hash, created_at, idle_expires_at, access_jti, access_expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.TokenHash, r.FamilyID, r.ParentHash, r.CreatedAt, r.IdleExpiresAt, r.AccessJTI, r.AccessExpiresAt)
	return err
}

// revokeFamily marks a family revoked (once) and denylists the access
// tokens issued in it that have not expired yet. It reports whether this
// call revoked it.
func (s *Store) revokeFamily(ctx context.Context, id string, now time.Time) (bool, error) {
	now = now.UTC()
	res := db.Conn(ctx, s.g).Model(&familyRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
	if err := db.Map(res.Error); err != nil {
		return false, err
	}
	// VerifyAccessToken accepts a token until leeway past its exp, so that
	// is how long it must stay denied (and until then the purge keeps it).
	var live []refreshRow
	err := db.Conn(ctx, s.g).Select("access_jti", "access_expires_at").
		Where("family_id = ? AND access_jti <> '' AND access_expires_at > ?", id, now.Add(-leeway*time.Second)).Find(&live).Error
	if err != nil {
		return false, db.Map(err)
	}
	for _, r := range live {
		if err := db.Map(db.Conn(ctx, s.g).Clauses(clause.OnConflict{DoNothing: true}).
			Create(&revokedRow{JTI: r.AccessJTI, ExpiresAt: r.AccessExpiresAt.Add(leeway * time.Second).UTC()}).Error); err != nil {
			return false, err
		}
	}
	// Sealed children are no longer needed once the family is dead.
	err = db.Conn(ctx, s.g).Model(&refreshRow{}).Where("family_id = ? AND child_sealed IS NOT NULL", id).
		Updates(map[string]any{"child_sealed": nil, "child_until": nil}).Error
	return res.RowsAffected == 1, db.Map(err)
}

// upstreamFamilies lists the unrevoked families signed in through upstream
// account (upstreamID, sub): what a refusal by that upstream revokes.
func (s *Store) upstreamFamilies(ctx context.Context, upstreamID, sub string) ([]familyRow, error) {
	var out []familyRow
	err := db.Conn(ctx, s.g).Select("id", "client_id", "user_id", "upstream_id").
		Where("upstream_id = ? AND upstream_sub = ? AND revoked_at IS NULL", upstreamID, sub).Find(&out).Error
	return out, db.Map(err)
}

// userFamilies lists a user's live families, newest use first.
func (s *Store) userFamilies(ctx context.Context, userID string, now time.Time) ([]familyRow, error) {
	var out []familyRow
	err := db.Conn(ctx, s.g).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now.UTC()).
		Order("last_used_at DESC").Find(&out).Error
	for i := range out {
		out[i].utc()
	}
	return out, db.Map(err)
}

// purgeRefresh drops expired families (their tokens cascade) and sealed
// children past their grace window, up to limit rows each.
func (s *Store) purgeRefresh(ctx context.Context, now time.Time, limit int) (int64, error) {
	now = now.UTC()
	n, err := db.DeleteBatch(ctx, s.g, &familyRow{}, "id", limit, "expires_at <= ?", now)
	if err != nil {
		return n, err
	}
	sub := db.Conn(ctx, s.g).Model(&refreshRow{}).Select("token_hash").Where("child_until <= ?", now).Limit(limit)
	res := db.Conn(ctx, s.g).Model(&refreshRow{}).Where("token_hash IN (?)", sub).
		Updates(map[string]any{"child_sealed": nil, "child_until": nil})
	return n + res.RowsAffected, db.Map(res.Error)
}
