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

// keptGrant is the sealed grant of one link about to be deleted.
type keptGrant struct {
	UpstreamID, Sub string
	Sealed          []byte
}

// keptGrants reads the sealed grants of upstream id's links, inside
// the caller's transaction and before it deletes them. The rows are
// locked first by a no-op update (as deleteLink does), so on PostgreSQL a
// sign-in replacing one of the grants meanwhile either commits before the
// read (and its grant is read) or waits and then finds no link to keep
// it on; SQLite's immediate transactions serialize the writers anyway.
func (s *Store) keptGrants(ctx context.Context, id string) ([]keptGrant, error) {
	c := db.Conn(ctx, s.gdb)
	if err := c.Model(&linkRow{}).Where("upstream_id = ?", id).Update("upstream_id", id).Error; err != nil {
		return nil, fmt.Errorf("lock upstream links: %w", db.Map(err))
	}
	var rows []linkRow
	if err := c.Where("upstream_id = ? AND token_sealed IS NOT NULL", id).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read upstream grants: %w", db.Map(err))
	}
	kept := make([]keptGrant, 0, len(rows))
	for _, r := range rows {
		if len(r.TokenSealed) > 0 {
			kept = append(kept, keptGrant{UpstreamID: r.UpstreamID, Sub: r.UpstreamSub, Sealed: r.TokenSealed})
		}
	}
	return kept, nil
}
