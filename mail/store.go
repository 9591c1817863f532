package mail

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Outbox states.
const (
	StateQueued  = "queued"
	StateSent    = "sent"
	StateFailed  = "failed"
	StateDropped = "dropped"
)

// Store is the mail_outbox table. Claims are conditional updates, so any
// number of replicas may drain it at once and each row has one sender.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g (a migrated database).
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// outboxRow is one queued message. Timestamps are set by the Service's
// clock, never by GORM.
type outboxRow struct {
	ID            string `gorm:"primaryKey"`
	Kind          string
	Recipient     string
	Data          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastError     string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"autoUpdateTime:false"`
}

func (outboxRow) TableName() string { return "mail_outbox" }

// insert adds a queued row.
func (s *Store) insert(ctx context.Context, r *outboxRow) error {
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// due lists up to limit queued rows whose attempt is due and whose lease,
// if any, has run out, oldest due first.
func (s *Store) due(ctx context.Context, now time.Time, limit int) ([]outboxRow, error) {
	var rows []outboxRow
	err := db.Conn(ctx, s.g).Where("state = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)",
		StateQueued, now, now).Order("next_attempt_at").Limit(limit).Find(&rows).Error
	return rows, db.Map(err)
}

// claim leases row id to owner until until, counting an attempt, if it is
// still queued, due and unleased: of concurrent claimers exactly one sees
// true.
func (s *Store) claim(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&outboxRow{}).
		Where("id = ? AND state = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)", id, StateQueued, now, now).
		Updates(map[string]any{"lease_owner": owner, "lease_until": until, "attempts": gorm.Expr("attempts + 1"), "updated_at": now})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// finish ends a claimed row in state (sent, failed or dropped), or, with
// state queued, releases it for another attempt at next. It changes
// nothing unless owner still holds the lease.
func (s *Store) finish(ctx context.Context, id, owner, state, lastErr string, next, now time.Time) (bool, error) {
	cols := map[string]any{"state": state, "lease_until": nil, "last_error": lastErr, "updated_at": now}
	if state == StateQueued {
		cols["next_attempt_at"] = next
	}
	res := db.Conn(ctx, s.g).Model(&outboxRow{}).
		Where("id = ? AND state = ? AND lease_owner = ?", id, StateQueued, owner).Updates(cols)
	return res.RowsAffected == 1, db.Map(res.Error)
}

// counts returns the number of rows in each state.
func (s *Store) counts(ctx context.Context) (map[string]int64, error) {
	var out []struct {
		State string
		N     int64
	}
	err := db.Conn(ctx, s.g).Model(&outboxRow{}).Select("state, count(*) AS n").Group("state").Scan(&out).Error
	m := map[string]int64{}
	for _, r := range out {
		m[r.State] = r.N
	}
	return m, db.Map(err)
}

// purge deletes up to limit finished rows last changed before before.
func (s *Store) purge(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &outboxRow{}, "id", limit, "state <> ? AND updated_at < ?", StateQueued, before)
}
