package audit

import (
	"context"

	"idp/db"
)

// ListTarget returns up to limit events about target whose action starts
// with prefix, newest first.
func (s *Store) ListTarget(ctx context.Context, target, prefix string, limit int) ([]Event, error) {
	var rows []row
	err := db.Conn(ctx, s.g).Where("target = ? AND action LIKE ?", target, prefix+"%").
		Order("at DESC, id DESC").Limit(limit).Find(&rows).Error
	out := make([]Event, len(rows))
	for i, r := range rows {
		r.utc()
		out[i] = Event(r)
	}
	return out, db.Map(err)
}
