package audit

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

type row struct {
	ID     string `gorm:"primaryKey"`
	At     time.Time
	Actor  string
	Action string
	Target string
	Via    string
	IP     string `gorm:"column:ip"`
	Detail string
}

func (row) TableName() string { return "audit_events" }

// utc puts At in UTC. PostgreSQL (pgx) returns timestamptz in time.Local,
// and an Event is in UTC whatever the dialect and the server's zone, so
// GET /api/admin/audit writes the same offsets on both. Writes need it
// too: SQLite compares DATETIME columns as text and mattn/go-sqlite3 binds
// a time in its own zone, so only times all in UTC compare as instants.
func (r *row) utc() { r.At = r.At.UTC() }

// Store persists audit events.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over g.
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

// Create appends an event, its time in UTC.
func (s *Store) Create(ctx context.Context, e *Event) error {
	r := row(*e)
	r.utc()
	return db.Map(db.Conn(ctx, s.g).Create(&r).Error)
}

// List returns up to limit events before a time, newest first. before may
// be in any zone (GET /api/admin/audit?before= passes the client's offset
// through): it is compared in UTC, see row.utc.
func (s *Store) List(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	var rows []row
	err := db.Conn(ctx, s.g).Where("at < ?", before.UTC()).Order("at DESC, id DESC").Limit(limit).Find(&rows).Error
	out := make([]Event, len(rows))
	for i, r := range rows {
		r.utc()
		out[i] = Event(r)
	}
	return out, db.Map(err)
}
