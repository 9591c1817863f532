package tokens

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Device authorization states (RFC 8628 §3.3–§3.5).
const (
	deviceStatusPending  = "pending"
	deviceStatusApproved = "approved"
	deviceStatusDenied   = "denied"
	deviceStatusRedeemed = "redeemed"
)

// deviceRow is a device authorization request as stored: both codes by
// hash only.
type deviceRow struct {
	DeviceHash   string `gorm:"primaryKey"`
	UserCodeHash string
	ClientID     string
	Scope        string
	Status       string
	UserID       string
	SessionID    string
	AuthTime     *time.Time
	AMR          string `gorm:"column:amr"`
	ACR          string `gorm:"column:acr"`
	UpstreamID   string `gorm:"column:upstream_id"`
	UpstreamSub  string `gorm:"column:upstream_sub"`
	IntervalSecs int
	Polls        int
	LastPolledAt *time.Time
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt    time.Time
	DecidedAt    *time.Time
	UsedAt       *time.Time
}

func (deviceRow) TableName() string { return "device_codes" }

// utc puts the times of a row, read back or about to be written, in UTC (see inUTC).
func (r *deviceRow) utc() {
	inUTC(r.AuthTime, r.LastPolledAt, &r.CreatedAt, &r.ExpiresAt, r.DecidedAt, r.UsedAt)
}

// deviceRetention is how long a device code row outlives its expiry, so
// a late poll still hears expired_token rather than invalid_grant.
const deviceRetention = time.Hour

// createDevice inserts a device authorization request; a user code hash
// already taken is db.ErrConflict.
func (s *Store) createDevice(ctx context.Context, r *deviceRow) error {
	r.utc()
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// deviceBy finds a device request by one of its hashed codes, in any state.
func (s *Store) deviceBy(ctx context.Context, column, hash string) (*deviceRow, error) {
	var r deviceRow
	if err := db.Map(db.Conn(ctx, s.g).Where(column+" = ?", hash).Take(&r).Error); err != nil {
		return nil, err
	}
	r.utc()
	return &r, nil
}

// decideDevice records the user's answer to a pending, live request, in
// one conditional update: of two answers (two tabs, two replicas) exactly
// one sees true.
func (s *Store) decideDevice(ctx context.Context, userCodeHash string, now time.Time, set map[string]any) (bool, error) {
	now = now.UTC()
	set["decided_at"] = now
	res := db.Conn(ctx, s.g).Model(&deviceRow{}).
		Where("user_code_hash = ? AND status = ? AND expires_at > ?", userCodeHash, deviceStatusPending, now).
		Updates(set)
	return res.RowsAffected == 1, db.Map(res.Error)
}

// pollDevice records a poll of a pending request, as a compare-and-swap on
// the poll count read with it: false means another poll came in between.
// slow adds 5 s to the interval for this and every later poll (RFC 8628
// §3.5), in the row, so every replica paces the client the same.
func (s *Store) pollDevice(ctx context.Context, hash string, polls int, now time.Time, slow bool) (bool, error) {
	set := map[string]any{"polls": polls + 1, "last_polled_at": now.UTC()}
	if slow {
		set["interval_secs"] = gorm.Expr("interval_secs + ?", 5)
	}
	res := db.Conn(ctx, s.g).Model(&deviceRow{}).
		Where("device_hash = ? AND polls = ? AND status = ?", hash, polls, deviceStatusPending).Updates(set)
	return res.RowsAffected == 1, db.Map(res.Error)
}

// slowDevice raises the interval of a request by 5 s unconditionally (a
// poll that lost the compare-and-swap was too fast by definition).
func (s *Store) slowDevice(ctx context.Context, hash string, now time.Time) error {
	return db.Map(db.Conn(ctx, s.g).Model(&deviceRow{}).Where("device_hash = ?", hash).
		Updates(map[string]any{"interval_secs": gorm.Expr("interval_secs + ?", 5), "last_polled_at": now.UTC()}).Error)
}

// claimDevice marks an approved, live request redeemed, in one conditional
// update: of any number of concurrent polls exactly one sees true.
func (s *Store) claimDevice(ctx context.Context, hash string, now time.Time) (bool, error) {
	now = now.UTC()
	res := db.Conn(ctx, s.g).Model(&deviceRow{}).
		Where("device_hash = ? AND status = ? AND expires_at > ?", hash, deviceStatusApproved, now).
		Updates(map[string]any{"status": deviceStatusRedeemed, "used_at": now})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// purgeDevice deletes up to limit device requests expired for longer than
// deviceRetention.
func (s *Store) purgeDevice(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &deviceRow{}, "device_hash", limit, "expires_at <= ?", now.UTC().Add(-deviceRetention))
}
