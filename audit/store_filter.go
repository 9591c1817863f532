package audit

import (
	"context"
	"slices"
	"unicode/utf8"

	"idp/db"
)

// Query returns up to limit events matching f, newest first. Times are
// compared in UTC (see row.utc). The action prefix is compared with substr,
// not LIKE, so % and _ in it match only themselves.
func (s *Store) Query(ctx context.Context, f Filter, limit int) ([]Event, error) {
	tx := db.Conn(ctx, s.g).Model(&row{})
	if f.Actor != "" {
		tx = tx.Where("lower(actor) = lower(?)", f.Actor)
	}
	if f.Target != "" {
		tx = tx.Where("target = ?", f.Target)
	}
	if f.Action != "" {
		tx = tx.Where("substr(action, 1, ?) = ?", utf8.RuneCountInString(f.Action), f.Action)
	}
	if !f.From.IsZero() {
		tx = tx.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		tx = tx.Where("at < ?", f.To.UTC())
	}
	order := "at DESC, id DESC"
	switch {
	case f.Before != nil:
		at := f.Before.At.UTC()
		tx = tx.Where("(at < ? OR (at = ? AND id < ?))", at, at, f.Before.ID)
	case f.After != nil:
		at := f.After.At.UTC()
		tx = tx.Where("(at > ? OR (at = ? AND id > ?))", at, at, f.After.ID)
		order = "at ASC, id ASC"
	}
	var rows []row
	if err := tx.Order(order).Limit(limit).Find(&rows).Error; err != nil {
		return nil, db.Map(err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		r.utc()
		out[i] = Event(r)
	}
	if f.After != nil {
		slices.Reverse(out)
	}
	return out, nil
}
