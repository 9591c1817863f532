package audit

import (
	"context"
	"fmt"
	"strings"
)

// About returns up to limit events about target (a user id, a client id)
// whose action starts with prefix, newest first: the account page lists a
// user's factor changes this way. prefix may not contain LIKE wildcards.
func (l *Log) About(ctx context.Context, target, prefix string, limit int) ([]Event, error) {
	if strings.ContainsAny(prefix, `%_\`) {
		return nil, fmt.Errorf("audit: prefix %q holds a LIKE wildcard", prefix)
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	evs, err := l.store.ListTarget(ctx, target, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return evs, nil
}
