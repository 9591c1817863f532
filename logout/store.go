package logout

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"idp/db"
)

// Delivery states.
const (
	StateQueued    = db.QueueQueued
	StateDelivered = "delivered"
	StateFailed    = "failed"
	StateDropped   = "dropped"
)

// Store is the session_clients table and the logout_deliveries queue.
// Claims are conditional updates, so any number of replicas may deliver
// at once and each row has one sender.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g (a migrated database).
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// deliveryRow is one queued back-channel logout. Timestamps are set by
// the Service's clock, never by GORM.
type deliveryRow struct {
	ID            string `gorm:"primaryKey"`
	SessionID     string
	ClientID      string
	UserID        string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastError     string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"autoUpdateTime:false"`
}

func (deliveryRow) TableName() string { return "logout_deliveries" }

// frontRow is a client of a session with a front-channel logout URI.
type frontRow struct {
	ClientID        string
	URI             string
	SessionRequired bool
}

// recordGrant records that clientID obtained tokens in session sid, if
// that session still exists (a session that ended meanwhile records
// nothing: there is nobody left to tell). Recording twice is a no-op.
func (s *Store) recordGrant(ctx context.Context, sid, clientID string, now time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Exec(`INSERT INTO session_clients (session_id, client_id, created_at)
		SELECT id, ?, ? FROM sessions WHERE id = ? ON CONFLICT DO NOTHING`, clientID, now.UTC(), sid).Error)
}

// pair is a session and one of its clients.
type pair struct{ SessionID, ClientID string }

// backchannelClients lists, for the sessions sids, their clients that
// registered a back-channel logout URI: one query for a whole batch of
// ended sessions.
func (s *Store) backchannelClients(ctx context.Context, sids []string) ([]pair, error) {
	var out []pair
	err := db.Conn(ctx, s.g).Table("session_clients AS sc").Joins("JOIN clients c ON c.id = sc.client_id").
		Select("sc.session_id AS session_id, sc.client_id AS client_id").
		Where("sc.session_id IN ? AND c.backchannel_logout_uri <> ''", sids).Order("sc.session_id, sc.client_id").Scan(&out).Error
	return out, db.Map(err)
}

// frontchannelClients lists the clients of session sid that registered a
// front-channel logout URI, with it.
func (s *Store) frontchannelClients(ctx context.Context, sid string) ([]frontRow, error) {
	var out []frontRow
	err := db.Conn(ctx, s.g).Table("session_clients AS sc").Joins("JOIN clients c ON c.id = sc.client_id").
		Select("c.id AS client_id, c.frontchannel_logout_uri AS uri, c.frontchannel_logout_session_required AS session_required").
		Where("sc.session_id = ? AND c.frontchannel_logout_uri <> ''", sid).Order("c.id").Scan(&out).Error
	return out, db.Map(err)
}

// insert queues rows; a (session, client) already queued is skipped, so
// two replicas ending one session enqueue each client once.
func (s *Store) insert(ctx context.Context, rows []deliveryRow) error {
	return db.Map(db.Conn(ctx, s.g).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error)
}

// queue is the leased-delivery part of the table (package db).
var queue = db.Queue{Row: func() any { return &deliveryRow{} }}

// due lists up to limit rows whose attempt is due and whose lease, if
// any, has run out, oldest due first.
func (s *Store) due(ctx context.Context, now time.Time, limit int) ([]deliveryRow, error) {
	var rows []deliveryRow
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
