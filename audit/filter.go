package audit

import (
	"context"
	"fmt"
	"time"
)

// Filter selects audit events; a zero field selects everything.
type Filter struct {
	// Actor is who acted, matched whole, ignoring case.
	Actor string
	// Target is what was acted on, matched whole.
	Target string
	// Action is a prefix of the action, matched literally ("user."
	// selects user.created, user.disabled, …; a whole action selects it).
	Action string
	// From and To bound the time: From <= at < To.
	From, To time.Time
	// Before and After page by position: events strictly older (Before)
	// or newer (After) than the event at that position. At most one.
	Before, After *Position
}

// Position is where an event sits in the log's order: its time, then its
// id (ids of one instant sort by recording order).
type Position struct {
	At time.Time
	ID string
}

// Of returns the position of e.
func Of(e Event) Position { return Position{e.At, e.ID} }

// maxQuery is the most events one Query returns.
const maxQuery = 5000

// Query returns up to limit (1 to 5000) events matching f, newest first.
// With f.After, they are the limit events just newer than it, still listed
// newest first.
func (l *Log) Query(ctx context.Context, f Filter, limit int) ([]Event, error) {
	if limit < 1 || limit > maxQuery {
		return nil, fmt.Errorf("audit: limit %d out of 1..%d", limit, maxQuery)
	}
	if f.Before != nil && f.After != nil {
		return nil, fmt.Errorf("audit: both before and after")
	}
	evs, err := l.store.Query(ctx, f, limit)
	if err != nil {
		return nil, fmt.Errorf("query audit events: %w", err)
	}
	return evs, nil
}
