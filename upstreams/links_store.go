package upstreams

import (
	"context"
	"fmt"
	"time"

	"idp/db"
)

// The pending links of migrations/*/00022_upstream_pending_links.sql and
// the removal of links. Kept apart from store.go so the upstreams
// themselves and the account links can change independently.

// pendingLink is a link waiting for the person to sign in to the idp
// account and confirm it (confirm.go).
type pendingLink struct {
	UpstreamID, Subject, Email, UserID string
	RequestID, Next                    string
	CreatedAt, ExpiresAt               time.Time
}

type pendingLinkRow struct {
	TokenHash   string    `gorm:"column:token_hash;primaryKey"`
	UpstreamID  string    `gorm:"column:upstream_id"`
	UpstreamSub string    `gorm:"column:upstream_sub"`
	Email       string    `gorm:"column:email"`
	UserID      string    `gorm:"column:user_id"`
	RequestID   string    `gorm:"column:request_id"`
	Next        string    `gorm:"column:next"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	ExpiresAt   time.Time `gorm:"column:expires_at"`
}

func (pendingLinkRow) TableName() string { return "upstream_pending_links" }

func (r *pendingLinkRow) pending() *pendingLink {
	return &pendingLink{UpstreamID: r.UpstreamID, Subject: r.UpstreamSub, Email: r.Email, UserID: r.UserID,
		RequestID: r.RequestID, Next: r.Next, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

func (s *Store) savePendingLink(ctx context.Context, hash string, p *pendingLink) error {
	row := pendingLinkRow{TokenHash: hash, UpstreamID: p.UpstreamID, UpstreamSub: p.Subject, Email: p.Email,
		UserID: p.UserID, RequestID: p.RequestID, Next: p.Next, CreatedAt: p.CreatedAt.UTC(), ExpiresAt: p.ExpiresAt.UTC()}
	if err := db.Conn(ctx, s.gdb).Create(&row).Error; err != nil {
		return fmt.Errorf("save pending link: %w", db.Map(err))
	}
	return nil
}

// pendingLinkByHash returns the unexpired pending link with hash without
// spending it (the confirm page shows it), or db.ErrNotFound.
func (s *Store) pendingLinkByHash(ctx context.Context, hash string, now time.Time) (*pendingLink, error) {
	var row pendingLinkRow
	err := db.Conn(ctx, s.gdb).Where("token_hash = ? AND expires_at > ?", hash, now.UTC()).Take(&row).Error
	if err != nil {
		return nil, db.Map(err)
	}
	return row.pending(), nil
}

// takePendingLink returns and deletes the pending link with hash: whoever
// deletes the row owns it, so of two racing confirmations exactly one
// gets it (RowsAffected decides, on both dialects). An expired row is
// deleted too and reported as db.ErrNotFound.
func (s *Store) takePendingLink(ctx context.Context, hash string, now time.Time) (*pendingLink, error) {
	var row pendingLinkRow
	c := db.Conn(ctx, s.gdb)
	if err := c.Where("token_hash = ?", hash).Take(&row).Error; err != nil {
		return nil, db.Map(err)
	}
	res := c.Where("token_hash = ?", hash).Delete(&pendingLinkRow{})
	if res.Error != nil {
		return nil, db.Map(res.Error)
	}
	if res.RowsAffected != 1 || !now.Before(row.ExpiresAt) {
		return nil, db.ErrNotFound
	}
	return row.pending(), nil
}

// DeleteExpiredPendingLinks forgets at most limit pending links nobody
// confirmed in time.
func (s *Store) DeleteExpiredPendingLinks(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.gdb, &pendingLinkRow{}, "token_hash", limit, "expires_at <= ?", now.UTC())
}

// deleteLink removes user userID's link of upstream account (upstreamID,
// sub) unless it is the user's last link and keepLast says the user has
// no other way to sign in: then it is ErrLastWay. An unknown link (or one
// of another user) is db.ErrNotFound.
//
// The user's links are locked first by a no-op update, so on PostgreSQL a
// second unlink of the same user waits for this one and then counts what
// it left; SQLite's immediate transactions serialize the writers anyway.
// Two racing unlinks can thus never remove the last two links together.
func (s *Store) deleteLink(ctx context.Context, userID, upstreamID, sub string, keepLast bool) error {
	return db.Tx(ctx, s.gdb, func(ctx context.Context) error {
		c := db.Conn(ctx, s.gdb)
		if err := c.Model(&linkRow{}).Where("user_id = ?", userID).
			Update("user_id", userID).Error; err != nil {
			return db.Map(err)
		}
		var n int64
		if err := c.Model(&linkRow{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
			return db.Map(err)
		}
		if keepLast && n <= 1 {
			var own int64
			if err := c.Model(&linkRow{}).Where("user_id = ? AND upstream_id = ? AND upstream_sub = ?", userID, upstreamID, sub).
				Count(&own).Error; err != nil {
				return db.Map(err)
			}
			if own == 1 {
				return ErrLastWay
			}
		}
		res := c.Where("user_id = ? AND upstream_id = ? AND upstream_sub = ?", userID, upstreamID, sub).Delete(&linkRow{})
		if res.Error != nil {
			return fmt.Errorf("unlink: %w", db.Map(res.Error))
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("unlink: %w", db.ErrNotFound)
		}
		return nil
	})
}
