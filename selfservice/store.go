package selfservice

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store is the mail_links table: link tokens by hash.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g (a migrated database).
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// linkRow is one live link. TokenHash is hex SHA-256 of the token.
type linkRow struct {
	TokenHash     string `gorm:"primaryKey"`
	Purpose       string
	UserID        string
	PasswordStamp string
	// Email is the new address an email change link confirms.
	Email     string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt time.Time
}

func (linkRow) TableName() string { return "mail_links" }

// replace deletes the user's other links of r's purpose and inserts r, in
// one transaction: a newer link supersedes the older ones.
func (s *Store) replace(ctx context.Context, r *linkRow) error {
	return db.Tx(ctx, s.g, func(ctx context.Context) error {
		if err := db.Conn(ctx, s.g).Where("user_id = ? AND purpose = ?", r.UserID, r.Purpose).Delete(&linkRow{}).Error; err != nil {
			return db.Map(err)
		}
		return db.Map(db.Conn(ctx, s.g).Create(r).Error)
	})
}

// live returns the unexpired link of purpose with hash, or db.ErrNotFound.
func (s *Store) live(ctx context.Context, hash, purpose string, now time.Time) (*linkRow, error) {
	var r linkRow
	err := db.Conn(ctx, s.g).Where("token_hash = ? AND purpose = ? AND expires_at > ?", hash, purpose, now).Take(&r).Error
	if err != nil {
		return nil, db.Map(err)
	}
	return &r, nil
}

// consume deletes the unexpired link of purpose with hash and reports
// whether it was there: of two concurrent uses exactly one sees true.
func (s *Store) consume(ctx context.Context, hash, purpose string, now time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Where("token_hash = ? AND purpose = ? AND expires_at > ?", hash, purpose, now).Delete(&linkRow{})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// deleteUser deletes every link of purpose of a user.
func (s *Store) deleteUser(ctx context.Context, userID, purpose string) error {
	return db.Map(db.Conn(ctx, s.g).Where("user_id = ? AND purpose = ?", userID, purpose).Delete(&linkRow{}).Error)
}

// deleteExpired deletes up to limit links expired at now.
func (s *Store) deleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &linkRow{}, "token_hash", limit, "expires_at <= ?", now)
}
