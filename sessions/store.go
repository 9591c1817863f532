package sessions

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// row is the sessions table.
type row struct {
	ID         string `gorm:"primaryKey"`
	TokenHash  string
	UserID     string
	AuthTime   time.Time
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string `gorm:"column:ip"`
	UserAgent  string
	AMR        string `gorm:"column:amr"` // RFC 8176 values, space-separated
	// UpstreamID and UpstreamSub: migrations/*/00023_upstream_refresh.sql.
	UpstreamID  string `gorm:"column:upstream_id"`
	UpstreamSub string `gorm:"column:upstream_sub"`
}

func (row) TableName() string { return "sessions" }

// utc puts every time of r in UTC. PostgreSQL (pgx) returns timestamptz
// in time.Local, and a Session is in UTC whatever the dialect and the
// server's zone, as users and clients are. Writes need it too: SQLite
// compares DATETIME columns as text and mattn/go-sqlite3 binds a time in
// its own zone, so only times all in UTC compare as instants.
func (r *row) utc() {
	for _, t := range []*time.Time{&r.AuthTime, &r.CreatedAt, &r.LastSeenAt, &r.ExpiresAt} {
		*t = t.UTC()
	}
}

// session converts a row read back into a Session, in UTC.
func (r row) session() Session {
	r.utc()
	return Session{ID: r.ID, TokenHash: r.TokenHash, UserID: r.UserID, AuthTime: r.AuthTime, CreatedAt: r.CreatedAt,
		LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt, IP: r.IP, UserAgent: r.UserAgent, AMR: strings.Fields(r.AMR),
		UpstreamID: r.UpstreamID, UpstreamSub: r.UpstreamSub}
}

// toRow converts a Session to its table form, times in UTC.
func toRow(sess *Session) row {
	r := row{ID: sess.ID, TokenHash: sess.TokenHash, UserID: sess.UserID, AuthTime: sess.AuthTime, CreatedAt: sess.CreatedAt,
		LastSeenAt: sess.LastSeenAt, ExpiresAt: sess.ExpiresAt, IP: sess.IP, UserAgent: sess.UserAgent,
		AMR: strings.Join(sess.AMR, " "), UpstreamID: sess.UpstreamID, UpstreamSub: sess.UpstreamSub}
	r.utc()
	return r
}

// Store persists sessions.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// Create inserts a session, its times in UTC.
func (s *Store) Create(ctx context.Context, sess *Session) error {
	r := toRow(sess)
	return db.Map(db.Conn(ctx, s.g).Create(&r).Error)
}

// ByTokenHash finds a session by the hash of its secret.
func (s *Store) ByTokenHash(ctx context.Context, hash string) (*Session, error) {
	var r row
	if err := db.Map(db.Conn(ctx, s.g).Where("token_hash = ?", hash).Take(&r).Error); err != nil {
		return nil, err
	}
	sess := r.session()
	return &sess, nil
}

// ByID finds a session by its public id.
func (s *Store) ByID(ctx context.Context, id string) (*Session, error) {
	var r row
	if err := db.Map(db.Conn(ctx, s.g).Where("id = ?", id).Take(&r).Error); err != nil {
		return nil, err
	}
	sess := r.session()
	return &sess, nil
}

// Touch records activity (stored in UTC, see row.utc).
func (s *Store) Touch(ctx context.Context, id string, at time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Model(&row{}).Where("id = ?", id).Update("last_seen_at", at.UTC()).Error)
}

// Elevate replaces a session's secret and records a stronger
// authentication, in one conditional update: the session must still be
// live and still hold the secret the caller presented.
func (s *Store) Elevate(ctx context.Context, id, oldHash, newHash string, amr []string, authTime, now time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&row{}).Where("id = ? AND token_hash = ? AND expires_at > ?", id, oldHash, now.UTC()).
		Updates(map[string]any{"token_hash": newHash, "amr": strings.Join(amr, " "), "auth_time": authTime.UTC(),
			"last_seen_at": now.UTC()})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// Delete removes one session of a user and reports how many rows went.
func (s *Store) Delete(ctx context.Context, userID, id string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("id = ? AND user_id = ?", id, userID).Delete(&row{})
	return res.RowsAffected, db.Map(res.Error)
}

// DeleteUser removes every session of a user.
func (s *Store) DeleteUser(ctx context.Context, userID string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("user_id = ?", userID).Delete(&row{})
	return res.RowsAffected, db.Map(res.Error)
}

// DeleteUserExcept removes every session of a user but keep.
func (s *Store) DeleteUserExcept(ctx context.Context, userID, keep string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("user_id = ? AND id <> ?", userID, keep).Delete(&row{})
	return res.RowsAffected, db.Map(res.Error)
}

// ListUser returns a user's sessions that have not expired, newest first.
// now may be in any zone: it is compared in UTC (see row.utc).
func (s *Store) ListUser(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	var rows []row
	err := db.Conn(ctx, s.g).Where("user_id = ? AND expires_at > ?", userID, now.UTC()).
		Order("created_at DESC").Find(&rows).Error
	out := make([]Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, db.Map(err)
}

// DeleteExpired removes up to limit expired sessions and reports how many.
// Small batches keep the write lock short; now is compared in UTC.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &row{}, "id", limit, "expires_at <= ?", now.UTC())
}
