package upstreams

import (
	"context"
	"fmt"
	"time"

	"idp/db"
)

// The sealed upstream grants of the links
// (migrations/*/00023_upstream_refresh.sql), for refresh.go.

// linkGrant is what a refresh check reads of a link.
type linkGrant struct {
	UserID    string
	Sealed    []byte
	CheckedAt *time.Time
}

func (s *Store) linkGrant(ctx context.Context, upstreamID, sub string) (*linkGrant, error) {
	var row linkRow
	err := db.Conn(ctx, s.gdb).Where("upstream_id = ? AND upstream_sub = ?", upstreamID, sub).Take(&row).Error
	if err != nil {
		return nil, fmt.Errorf("upstream link: %w", db.Map(err))
	}
	lg := &linkGrant{UserID: row.UserID, Sealed: row.TokenSealed, CheckedAt: row.CheckedAt}
	if lg.CheckedAt != nil {
		t := lg.CheckedAt.UTC()
		lg.CheckedAt = &t
	}
	return lg, nil
}

// saveGrant records a sign-in on the link: sealed (when not nil) is the
// grant to keep, and the sign-in counts as a check.
func (s *Store) saveGrant(ctx context.Context, upstreamID, sub string, sealed []byte, now time.Time) error {
	set := map[string]any{"checked_at": now.UTC()}
	if sealed != nil {
		set["token_sealed"] = sealed
	}
	err := db.Conn(ctx, s.gdb).Model(&linkRow{}).Where("upstream_id = ? AND upstream_sub = ?", upstreamID, sub).
		Updates(set).Error
	return db.Map(err)
}

// swapGrant records a passed check: the grant becomes sealed, if it is
// still old (compare-and-swap, on both dialects). When another check or
// sign-in replaced it meanwhile, theirs is newer and stays.
func (s *Store) swapGrant(ctx context.Context, upstreamID, sub string, old, sealed []byte, now time.Time) error {
	err := db.Conn(ctx, s.gdb).Model(&linkRow{}).
		Where("upstream_id = ? AND upstream_sub = ? AND token_sealed = ?", upstreamID, sub, old).
		Updates(map[string]any{"token_sealed": sealed, "checked_at": now.UTC()}).Error
	return db.Map(err)
}
