package tokens

import (
	"context"
	"time"

	"idp/db"
)

// pushedRow is a pushed authorization request (RFC 9126) as stored: the
// request_uri itself is only in the PAR response; the table keeps the hash
// of its random part.
type pushedRow struct {
	IDHash    string `gorm:"primaryKey"`
	ClientID  string
	Params    map[string][]string `gorm:"serializer:json"`
	CreatedAt time.Time           `gorm:"autoCreateTime:false"`
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (pushedRow) TableName() string { return "pushed_requests" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (r *pushedRow) utc() { inUTC(&r.CreatedAt, &r.ExpiresAt, r.UsedAt) }

// createPushed inserts a pushed request.
func (s *Store) createPushed(ctx context.Context, r *pushedRow) error {
	r.utc()
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// pushed finds a pushed request by hash, expired or used or not.
func (s *Store) pushed(ctx context.Context, hash string) (*pushedRow, error) {
	var r pushedRow
	if err := db.Map(db.Conn(ctx, s.g).Where("id_hash = ?", hash).Take(&r).Error); err != nil {
		return nil, err
	}
	r.utc()
	return &r, nil
}

// ClaimPushed marks a pushed request used, in one conditional update that
// also checks its client and expiry: of any number of concurrent
// redeemers exactly one sees true (RFC 9126 §4, one-time use).
func (s *Store) ClaimPushed(ctx context.Context, hash, clientID string, now time.Time) (bool, error) {
	now = now.UTC()
	res := db.Conn(ctx, s.g).Model(&pushedRow{}).
		Where("id_hash = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?", hash, clientID, now).
		Update("used_at", now)
	return res.RowsAffected == 1, db.Map(res.Error)
}
