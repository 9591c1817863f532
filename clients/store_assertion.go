package clients

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"idp/db"
)

type assertionRow struct {
	ClientID  string    `gorm:"column:client_id;primaryKey"`
	JTIHash   string    `gorm:"column:jti_hash;primaryKey"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (assertionRow) TableName() string { return "client_assertions" }

// useAssertion records that client used jti, until expires, and reports
// whether it was the first use: the primary key makes exactly one of any
// racing uses fresh.
func (s *Store) useAssertion(ctx context.Context, client, jti string, expires time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(jti))
	err := db.Map(db.Conn(ctx, s.gdb).Create(&assertionRow{ClientID: client, JTIHash: hex.EncodeToString(sum[:]),
		ExpiresAt: expires.UTC()}).Error)
	if errors.Is(err, db.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// deleteExpiredAssertions forgets up to limit assertions expired at now.
func (s *Store) deleteExpiredAssertions(ctx context.Context, now time.Time, limit int) (int64, error) {
	g := db.Conn(ctx, s.gdb)
	sub := g.Model(&assertionRow{}).Select("jti_hash").Where("expires_at <= ?", now.UTC()).Limit(limit)
	// expires_at again: another client may have used the same jti later.
	res := g.Where("expires_at <= ? AND jti_hash IN (?)", now.UTC(), sub).Delete(&assertionRow{})
	return res.RowsAffected, db.Map(res.Error)
}
