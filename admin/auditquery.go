package admin

import (
	"context"
	"strings"
	"time"

	"idp/audit"
)

// AuditQuery selects audit events for the audit page, the API and the
// export. Every field is optional.
type AuditQuery struct {
	Actor   string    // who acted, whole, ignoring case
	Subject string    // what was acted on (the event's target), whole
	Kind    string    // a prefix of the action: "user." or "user.disabled"
	From    time.Time // events at or after
	To      time.Time // events before
	// Older and Newer are cursors from an AuditPage: the page just older
	// or just newer than the one that gave them. At most one.
	Older, Newer string
	Limit        int // 1 to 1000; 0: 100
}

// AuditPage is one page of events, newest first, with the cursors of its
// neighbours (empty when there is none).
type AuditPage struct {
	Events []Event `json:"events"`
	Older  string  `json:"older,omitempty"`
	Newer  string  `json:"newer,omitempty"`
}

// filter checks q and turns it into the audit package's filter.
func (q AuditQuery) filter() (audit.Filter, error) {
	f := audit.Filter{Actor: strings.TrimSpace(q.Actor), Target: strings.TrimSpace(q.Subject),
		Action: strings.TrimSpace(q.Kind), From: q.From, To: q.To}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return f, &InvalidError{Reason: "from must be before to"}
	}
	if q.Older != "" && q.Newer != "" {
		return f, &InvalidError{Reason: "ask for older or newer events, not both"}
	}
	var err error
	if q.Older != "" {
		f.Before, err = parseCursor(q.Older)
	}
	if q.Newer != "" {
		f.After, err = parseCursor(q.Newer)
	}
	return f, err
}

// AuditEvents returns one page of the events q selects. A bad cursor,
// limit or time range is *InvalidError.
func (s *Service) AuditEvents(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if q.Limit == 0 {
		q.Limit = 100
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return AuditPage{}, &InvalidError{Reason: "limit must be between 1 and 1000"}
	}
	f, err := q.filter()
	if err != nil {
		return AuditPage{}, err
	}
	// One more than asked tells whether a further page exists that way.
	evs, err := s.audit.Query(ctx, f, q.Limit+1)
	if err != nil {
		return AuditPage{}, err
	}
	more := len(evs) > q.Limit
	if more && f.After != nil {
		evs = evs[1:] // the extra one is the newest
	} else if more {
		evs = evs[:q.Limit]
	}
	page := AuditPage{Events: make([]Event, 0, len(evs))}
	for _, e := range evs {
		page.Events = append(page.Events, eventView(e))
	}
	if len(evs) == 0 {
		return page, nil
	}
	// Coming from a neighbour means that neighbour is still there.
	if more || f.After != nil {
		page.Older = cursor(evs[len(evs)-1])
	}
	if (more && f.After != nil) || f.Before != nil {
		page.Newer = cursor(evs[0])
	}
	return page, nil
}

// exportBatch is how many events ExportAudit reads at a time.
const exportBatch = 500

// ExportAudit calls each for every event q selects (its cursors and limit
// are ignored), newest first, reading the log in batches so any number of
// events streams in bounded memory. It stops at the first error of each.
func (s *Service) ExportAudit(ctx context.Context, q AuditQuery, each func(Event) error) error {
	q.Older, q.Newer = "", ""
	f, err := q.filter()
	if err != nil {
		return err
	}
	for {
		evs, err := s.audit.Query(ctx, f, exportBatch)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := each(eventView(e)); err != nil {
				return err
			}
		}
		if len(evs) < exportBatch {
			return nil
		}
		last := audit.Of(evs[len(evs)-1])
		f.Before = &last
	}
}

// cursor encodes an event's position for a page link: its time to the
// nanosecond, then its id.
func cursor(e audit.Event) string {
	return e.At.UTC().Format(time.RFC3339Nano) + "~" + e.ID
}

// parseCursor reads a cursor; anything else is *InvalidError.
func parseCursor(c string) (*audit.Position, error) {
	at, id, ok := strings.Cut(c, "~")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || id == "" || len(c) > 200 {
		return nil, &InvalidError{Reason: "the page cursor is not one this server gave"}
	}
	return &audit.Position{At: t, ID: id}, nil
}
