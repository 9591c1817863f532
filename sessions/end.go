package sessions

import (
	"context"
	"fmt"

	"idp/db"
)

// Ended is a session that has just ended, as the OnEnd hook sees it.
type Ended struct {
	ID     string
	UserID string
}

// EndHook is told, inside the transaction that ends them, which sessions
// end: before their rows go, so what hangs off a session (which clients
// obtained tokens in it) can still be read. Its error rolls the end back.
type EndHook func(ctx context.Context, ended []Ended) error

// OnEnd registers the hook every way of ending sessions calls (End,
// EndAll, EndOthers and PurgeExpired) and after, called once the
// transaction that ended sessions committed (not when it joined a
// caller's transaction, which commits later). Call it at wiring time only.
func (s *Service) OnEnd(h EndHook, after func()) { s.onEnd, s.afterEnd = h, after }

// PurgeExpired ends up to limit sessions whose absolute expiry has passed
// (the GC loop) and reports how many went.
func (s *Service) PurgeExpired(ctx context.Context, limit int) (int64, error) {
	n, err := s.end(ctx, limit, "expires_at <= ?", s.now().UTC())
	if err != nil {
		return n, fmt.Errorf("purge expired sessions: %w", err)
	}
	return n, nil
}

// end ends the sessions matching where (at most limit when limit > 0) in
// one transaction: it lists them, tells the hook, then deletes them, and
// reports how many rows went. Two callers ending the same session at once
// both tell the hook; the hook must be idempotent (the logout queue is,
// by a unique key).
func (s *Service) end(ctx context.Context, limit int, where string, args ...any) (int64, error) {
	var n int64
	ours := !db.InTx(ctx)
	err := db.Tx(ctx, s.store.g, func(ctx context.Context) error {
		ended, err := s.store.matching(ctx, limit, where, args...)
		if err != nil || len(ended) == 0 {
			return err
		}
		if s.onEnd != nil {
			if err := s.onEnd(ctx, ended); err != nil {
				return err
			}
		}
		ids := make([]string, len(ended))
		for i, e := range ended {
			ids[i] = e.ID
		}
		n, err = s.store.deleteIDs(ctx, ids)
		return err
	})
	if err == nil && n > 0 && ours && s.afterEnd != nil {
		s.afterEnd()
	}
	return n, err
}

// matching lists the id and user of up to limit sessions (all when limit
// is 0) matching where.
func (s *Store) matching(ctx context.Context, limit int, where string, args ...any) ([]Ended, error) {
	var out []Ended
	q := db.Conn(ctx, s.g).Model(&row{}).Select("id, user_id").Where(where, args...).Order("id")
	if limit > 0 {
		q = q.Limit(limit)
	}
	err := q.Scan(&out).Error
	return out, db.Map(err)
}

// deleteIDs deletes the sessions ids.
func (s *Store) deleteIDs(ctx context.Context, ids []string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("id IN ?", ids).Delete(&row{})
	return res.RowsAffected, db.Map(res.Error)
}
