package admin

import (
	"context"
	"time"
)

// Audit lists up to limit events before before (zero: now), newest first.
func (s *Service) Audit(ctx context.Context, before time.Time, limit int) ([]Event, error) {
	events, err := s.audit.List(ctx, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(events))
	for _, e := range events {
		out = append(out, eventView(e))
	}
	return out, nil
}
