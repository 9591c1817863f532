package mail

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Outbox states.
const (
	StateQueued  = db.QueueQueued
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

// queue is the leased-delivery part of the table (package db).
var queue = db.Queue{Row: func() any { return &outboxRow{} }}

// due lists up to limit rows whose attempt is due and whose lease, if
// any, has run out, oldest due first.
func (s *Store) due(ctx context.Context, now time.Time, limit int) ([]outboxRow, error) {
	var rows []outboxRow
	return rows, queue.Due(ctx, s.g, now, limit, &rows)
}

// claim leases row id to owner until until, counting an attempt: of
// concurrent claimers exactly one sees true.
func (s *Store) claim(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	return queue.Claim(ctx, s.g, id, owner, now, until)
}

// finish ends a claimed row in state, or with state queued releases it
// for another attempt at next, if owner still holds it.
func (s *Store) finish(ctx context.Context, id, owner, state, lastErr string, next, now time.Time) (bool, error) {
	return queue.Finish(ctx, s.g, id, owner, state, lastErr, next, now)
}

// counts returns the number of rows in each state.
func (s *Store) counts(ctx context.Context) (map[string]int64, error) { return queue.Counts(ctx, s.g) }

// purge deletes up to limit finished rows last changed before before.
func (s *Store) purge(ctx context.Context, before time.Time, limit int) (int64, error) {
	return queue.Purge(ctx, s.g, before, limit)
}
