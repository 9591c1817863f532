package throttle

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"idp/db"
)

type row struct {
	Key         string `gorm:"primaryKey"`
	Failures    int
	FirstAt     time.Time
	LastAt      time.Time
	LockedUntil *time.Time
}

func (row) TableName() string { return "signin_failures" }

// Store persists failure counters.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

func (s *Store) lockedUntil(ctx context.Context, key string) (time.Time, error) {
	var r row
	err := db.Map(db.Conn(ctx, s.g).Select("locked_until").Where("key = ?", key).Take(&r).Error)
	if errors.Is(err, db.ErrNotFound) || (err == nil && r.LockedUntil == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return *r.LockedUntil, nil
}

// fail counts one failure atomically (an upsert that increments, or
// restarts a counter whose last failure is older than stale) and returns
// the new count.
func (s *Store) fail(ctx context.Context, key string, now, stale time.Time) (int, error) {
	var n int
	err := db.Tx(ctx, s.g, func(ctx context.Context) error {
		err := db.Conn(ctx, s.g).Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "key"}},
			DoUpdates: clause.Assignments(map[string]any{
				"failures": gorm.Expr("CASE WHEN signin_failures.last_at < ? THEN 1 ELSE signin_failures.failures + 1 END", stale),
				"first_at": gorm.Expr("CASE WHEN signin_failures.last_at < ? THEN ? ELSE signin_failures.first_at END", stale, now),
				"last_at":  now,
			}),
		}).Create(&row{Key: key, Failures: 1, FirstAt: now, LastAt: now}).Error
		if err != nil {
			return db.Map(err)
		}
		var r row
		if err := db.Conn(ctx, s.g).Where("key = ?", key).Take(&r).Error; err != nil {
			return db.Map(err)
		}
		n = r.Failures
		return nil
	})
	return n, err
}

func (s *Store) lock(ctx context.Context, key string, until time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Model(&row{}).Where("key = ?", key).Update("locked_until", until).Error)
}

func (s *Store) clear(ctx context.Context, key string) error {
	return db.Map(db.Conn(ctx, s.g).Where("key = ?", key).Delete(&row{}).Error)
}

// clearPrefix deletes every counter whose key starts with prefix (an
// exact prefix: substr, not LIKE, so % and _ in an email match only
// themselves) and reports how many.
func (s *Store) clearPrefix(ctx context.Context, prefix string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("substr(key, 1, ?) = ?", len(prefix), prefix).Delete(&row{})
	return res.RowsAffected, db.Map(res.Error)
}

func (s *Store) purge(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &row{}, "key", limit, "last_at < ?", before)
}

// prefixed returns every counter whose key starts with prefix (an exact
// prefix, as in clearPrefix).
func (s *Store) prefixed(ctx context.Context, prefix string) ([]row, error) {
	var rows []row
	err := db.Conn(ctx, s.g).Where("substr(key, 1, ?) = ?", len(prefix), prefix).Find(&rows).Error
	return rows, db.Map(err)
}
