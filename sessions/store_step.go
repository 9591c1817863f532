package sessions

import (
	"context"
	"strings"
	"time"

	"idp/db"
)

// stepRow is the signin_steps table.
type stepRow struct {
	TokenHash string `gorm:"primaryKey"`
	UserID    string
	AMR       string    `gorm:"column:amr"`
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt time.Time
}

func (stepRow) TableName() string { return "signin_steps" }

func (s *Store) createStep(ctx context.Context, hash string, st *Step) error {
	r := stepRow{TokenHash: hash, UserID: st.UserID, AMR: strings.Join(st.AMR, " "),
		CreatedAt: st.CreatedAt.UTC(), ExpiresAt: st.ExpiresAt.UTC()}
	return db.Map(db.Conn(ctx, s.g).Create(&r).Error)
}

func (s *Store) step(ctx context.Context, hash string) (*Step, error) {
	var r stepRow
	if err := db.Map(db.Conn(ctx, s.g).Where("token_hash = ?", hash).Take(&r).Error); err != nil {
		return nil, err
	}
	return &Step{UserID: r.UserID, AMR: strings.Fields(r.AMR), CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}, nil
}

// deleteStep removes a step and reports how many rows went: the one
// request that sees 1 completes it.
func (s *Store) deleteStep(ctx context.Context, hash string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("token_hash = ?", hash).Delete(&stepRow{})
	return res.RowsAffected, db.Map(res.Error)
}

// DeleteExpiredSteps removes up to limit expired half-done sign-ins.
func (s *Store) DeleteExpiredSteps(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &stepRow{}, "token_hash", limit, "expires_at <= ?", now.UTC())
}
