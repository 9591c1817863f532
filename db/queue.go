package db

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// QueueQueued is the state of a queue row still to be delivered.
const QueueQueued = "queued"

// Queue is a table of rows delivered at least once by whichever replica
// claims them first: the mail outbox and the logout deliveries. Its rows
// have the columns id, state, attempts, next_attempt_at, lease_owner,
// lease_until, last_error and updated_at. A claim is a conditional update,
// so any number of replicas may drain one table at once and each row has
// one sender at a time; a sender that dies loses its claim when the lease
// runs out.
type Queue struct {
	// Row returns a new, empty row (a pointer to the row type), for the
	// table name. A new one for every statement: GORM writes the updated
	// columns back into it, so one shared value would be a data race
	// between concurrent senders.
	Row func() any
}

// queueDue selects the rows that may be claimed at now: queued, due, and
// unleased or with a run-out lease.
const queueDue = "state = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"

// Due fills rows (a pointer to a slice of the row type) with up to limit
// rows that may be claimed at now, oldest due first.
func (q Queue) Due(ctx context.Context, g *gorm.DB, now time.Time, limit int, rows any) error {
	return Map(Conn(ctx, g).Model(q.Row()).Where(queueDue, QueueQueued, now, now).
		Order("next_attempt_at").Limit(limit).Find(rows).Error)
}

// Claim leases row id to owner until until, counting an attempt, if it is
// still queued, due and unleased: of concurrent claimers exactly one sees
// true.
func (q Queue) Claim(ctx context.Context, g *gorm.DB, id, owner string, now, until time.Time) (bool, error) {
	res := Conn(ctx, g).Model(q.Row()).Where("id = ? AND "+queueDue, id, QueueQueued, now, now).
		Updates(map[string]any{"lease_owner": owner, "lease_until": until, "attempts": gorm.Expr("attempts + 1"), "updated_at": now})
	return res.RowsAffected == 1, Map(res.Error)
}

// Finish ends a claimed row in state, or with state QueueQueued releases
// it for another attempt at next. It changes nothing unless owner still
// holds the row, so a sender whose lease ran out cannot undo the work of
// the one that took the row over.
func (q Queue) Finish(ctx context.Context, g *gorm.DB, id, owner, state, lastErr string, next, now time.Time) (bool, error) {
	cols := map[string]any{"state": state, "lease_until": nil, "last_error": lastErr, "updated_at": now}
	if state == QueueQueued {
		cols["next_attempt_at"] = next
	}
	res := Conn(ctx, g).Model(q.Row()).Where("id = ? AND state = ? AND lease_owner = ?", id, QueueQueued, owner).Updates(cols)
	return res.RowsAffected == 1, Map(res.Error)
}

// Counts returns the number of rows in each state.
func (q Queue) Counts(ctx context.Context, g *gorm.DB) (map[string]int64, error) {
	var out []struct {
		State string
		N     int64
	}
	err := Conn(ctx, g).Model(q.Row()).Select("state, count(*) AS n").Group("state").Scan(&out).Error
	m := map[string]int64{}
	for _, r := range out {
		m[r.State] = r.N
	}
	return m, Map(err)
}

// Purge deletes up to limit finished rows last changed before before.
func (q Queue) Purge(ctx context.Context, g *gorm.DB, before time.Time, limit int) (int64, error) {
	return DeleteBatch(ctx, g, q.Row(), "id", limit, "state <> ? AND updated_at < ?", QueueQueued, before)
}
