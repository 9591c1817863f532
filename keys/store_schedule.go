package keys

import (
	"context"
	"fmt"
	"time"

	"idp/db"
)

// policyRow is one key_policies row: the serving policy of one process.
// Durations are milliseconds, which both dialects store as integers.
type policyRow struct {
	Instance           string     `gorm:"column:instance;primaryKey"`
	Host               string     `gorm:"column:host"`
	PID                int        `gorm:"column:pid"`
	StartedAt          time.Time  `gorm:"column:started_at"`
	SeenAt             time.Time  `gorm:"column:seen_at"`
	StoppedAt          *time.Time `gorm:"column:stopped_at"`
	JWKSMaxAgeMS       int64      `gorm:"column:jwks_max_age_ms"`
	CacheTTLMS         int64      `gorm:"column:cache_ttl_ms"`
	RotationIntervalMS int64      `gorm:"column:rotation_interval_ms"`
	TokenTTLMS         int64      `gorm:"column:token_ttl_ms"`
	ClockSkewMS        int64      `gorm:"column:clock_skew_ms"`
}

// TableName tells GORM the table; the migrations define it.
func (policyRow) TableName() string { return "key_policies" }

func (r *policyRow) policy() Policy {
	p := Policy{
		Instance: r.Instance, Host: r.Host, PID: r.PID, StartedAt: r.StartedAt.UTC(), SeenAt: r.SeenAt.UTC(),
		JWKSMaxAge:       time.Duration(r.JWKSMaxAgeMS) * time.Millisecond,
		CacheTTL:         time.Duration(r.CacheTTLMS) * time.Millisecond,
		RotationInterval: time.Duration(r.RotationIntervalMS) * time.Millisecond,
		TokenTTL:         time.Duration(r.TokenTTLMS) * time.Millisecond,
		ClockSkew:        time.Duration(r.ClockSkewMS) * time.Millisecond,
	}
	if r.StoppedAt != nil {
		t := r.StoppedAt.UTC()
		p.StoppedAt = &t
	}
	return p
}

func policyRowOf(p Policy) policyRow {
	return policyRow{
		Instance: p.Instance, Host: p.Host, PID: p.PID, StartedAt: p.StartedAt, SeenAt: p.SeenAt, StoppedAt: p.StoppedAt,
		JWKSMaxAgeMS: p.JWKSMaxAge.Milliseconds(), CacheTTLMS: p.CacheTTL.Milliseconds(), RotationIntervalMS: p.RotationInterval.Milliseconds(),
		TokenTTLMS: p.TokenTTL.Milliseconds(), ClockSkewMS: p.ClockSkew.Milliseconds(),
	}
}

// lock begins a key-schedule transaction: every transaction that publishes
// a key or registers a serving process updates the one key_schedule row
// first, so they run one after the other on both dialects (the row lock on
// PostgreSQL, the write lock on SQLite). It must run inside tx.
func (s *store) lock(ctx context.Context) error {
	res := db.Conn(ctx, s.g).Exec("UPDATE key_schedule SET epoch = epoch + 1 WHERE id = 1")
	if res.Error != nil {
		return fmt.Errorf("lock key schedule: %w", db.Map(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("lock key schedule: the key_schedule row is missing (run idp migrate)")
	}
	return nil
}

// policies returns every recorded serving policy.
func (s *store) policies(ctx context.Context) ([]Policy, error) {
	var rows []policyRow
	if err := db.Conn(ctx, s.g).Order("started_at, instance").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load serving policies: %w", db.Map(err))
	}
	out := make([]Policy, len(rows))
	for i := range rows {
		out[i] = rows[i].policy()
	}
	return out, nil
}

// putPolicy records a new serving process.
func (s *store) putPolicy(ctx context.Context, p Policy) error {
	r := policyRowOf(p)
	if err := db.Conn(ctx, s.g).Create(&r).Error; err != nil {
		return fmt.Errorf("record serving policy: %w", db.Map(err))
	}
	return nil
}

// touchPolicy sets seen_at (and stopped_at, when not nil) of one instance.
func (s *store) touchPolicy(ctx context.Context, instance string, seen time.Time, stopped *time.Time) error {
	set := map[string]any{"seen_at": seen}
	if stopped != nil {
		set["stopped_at"] = *stopped
	}
	res := db.Conn(ctx, s.g).Model(&policyRow{}).Where("instance = ?", instance).Updates(set)
	if res.Error != nil {
		return fmt.Errorf("refresh serving policy: %w", db.Map(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("refresh serving policy %s: %w", instance, db.ErrNotFound)
	}
	return nil
}

// prunePolicies deletes policies last seen before cutoff.
func (s *store) prunePolicies(ctx context.Context, cutoff time.Time) error {
	err := db.Conn(ctx, s.g).Where("seen_at < ?", cutoff).Delete(&policyRow{}).Error
	if err != nil {
		return fmt.Errorf("prune serving policies: %w", db.Map(err))
	}
	return nil
}

// extend raises the active key kid's signed_until to until, unless it is
// already there or the key is no longer active; it reports whether the row
// changed. It writes outside any transaction the caller's context carries:
// the mark must be durable before the token it covers is handed out, even
// if the caller's own transaction later rolls back.
func (s *store) extend(ctx context.Context, kid string, until time.Time) (bool, error) {
	res := s.g.WithContext(ctx).Model(&row{}).
		Where("kid = ? AND state = ? AND (signed_until IS NULL OR signed_until < ?)", kid, StateActive, until).
		Update("signed_until", until)
	if res.Error != nil {
		return false, fmt.Errorf("record signing of key %s: %w", kid, db.Map(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// raise moves the next key kid's signs_from up to at, never down; it reports
// whether the row changed. It must run inside tx, after lock.
func (s *store) raise(ctx context.Context, kid string, at time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&row{}).
		Where("kid = ? AND state = ? AND (signs_from IS NULL OR signs_from < ?)", kid, StateNext, at).
		Update("signs_from", at)
	if res.Error != nil {
		return false, fmt.Errorf("raise signs_from of key %s: %w", kid, db.Map(res.Error))
	}
	return res.RowsAffected == 1, nil
}
