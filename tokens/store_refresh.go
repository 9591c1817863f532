package tokens

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"idp/db"
)

type familyRow struct {
	ID         string `gorm:"primaryKey"`
	ClientID   string
	UserID     string
	SessionID  string
	Scope      string
	Resources  []string `gorm:"serializer:json"`
	AuthTime   time.Time
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	LastUsedAt time.Time
	ExpiresAt  time.Time
	IP         string `gorm:"column:ip"`
	UserAgent  string
	RevokedAt  *time.Time
}

func (familyRow) TableName() string { return "refresh_families" }

type refreshRow struct {
	TokenHash       string `gorm:"primaryKey"`
	FamilyID        string
	ParentHash      string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	IdleExpiresAt   time.Time
	UsedAt          *time.Time
	ChildSealed     []byte
	ChildUntil      *time.Time
	AccessJTI       string `gorm:"column:access_jti"`
	AccessExpiresAt time.Time
}

func (refreshRow) TableName() string { return "refresh_tokens" }

// createFamily inserts a family and its first token.
func (s *Store) createFamily(ctx context.Context, f *familyRow, first *refreshRow) error {
	if err := db.Map(db.Conn(ctx, s.g).Create(f).Error); err != nil {
		return err
	}
	return db.Map(db.Conn(ctx, s.g).Create(first).Error)
}

// refresh finds a refresh token and its family.
func (s *Store) refresh(ctx context.Context, hash string) (*refreshRow, *familyRow, error) {
	var r refreshRow
	if err := db.Map(db.Conn(ctx, s.g).Where("token_hash = ?", hash).Take(&r).Error); err != nil {
		return nil, nil, err
	}
	f, err := s.family(ctx, r.FamilyID)
	if err != nil {
		return nil, nil, err
	}
	return &r, f, nil
}

// family finds a family by id.
func (s *Store) family(ctx context.Context, id string) (*familyRow, error) {
	var f familyRow
	if err := db.Map(db.Conn(ctx, s.g).Where("id = ?", id).Take(&f).Error); err != nil {
		return nil, err
	}
	return &f, nil
}

// claimRefresh marks a refresh token used and stores the sealed response
// of this refresh in the same conditional update: of concurrent refreshers
// exactly one sees true, and the others then find the sealed child.
func (s *Store) claimRefresh(ctx context.Context, hash string, now time.Time, sealed []byte, until time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&refreshRow{}).
		Where("token_hash = ? AND used_at IS NULL", hash).
		Updates(map[string]any{"used_at": now, "child_sealed": sealed, "child_until": until})
	return res.RowsAffected == 1, db.Map(res.Error)
}

// insertRefresh adds a rotated token to its family and records the use.
func (s *Store) insertRefresh(ctx context.Context, r *refreshRow, now time.Time, ip, ua string) error {
	if err := db.Map(db.Conn(ctx, s.g).Create(r).Error); err != nil {
		return err
	}
	return db.Map(db.Conn(ctx, s.g).Model(&familyRow{}).Where("id = ?", r.FamilyID).
		Updates(map[string]any{"last_used_at": now, "ip": ip, "user_agent": ua}).Error)
}

// revokeFamily marks a family revoked (once) and denylists the access
// tokens issued in it that have not expired yet. It reports whether this
// call revoked it.
func (s *Store) revokeFamily(ctx context.Context, id string, now time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&familyRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", now)
	if err := db.Map(res.Error); err != nil {
		return false, err
	}
	// VerifyAccessToken accepts a token until leeway past its exp, so that
	// is how long it must stay denied (and until then the purge keeps it).
	var live []refreshRow
	err := db.Conn(ctx, s.g).Select("access_jti", "access_expires_at").
		Where("family_id = ? AND access_jti <> '' AND access_expires_at > ?", id, now.Add(-leeway*time.Second)).Find(&live).Error
	if err != nil {
		return false, db.Map(err)
	}
	for _, r := range live {
		if err := db.Map(db.Conn(ctx, s.g).Clauses(clause.OnConflict{DoNothing: true}).
			Create(&revokedRow{JTI: r.AccessJTI, ExpiresAt: r.AccessExpiresAt.Add(leeway * time.Second)}).Error); err != nil {
			return false, err
		}
	}
	// Sealed children are no longer needed once the family is dead.
	err = db.Conn(ctx, s.g).Model(&refreshRow{}).Where("family_id = ? AND child_sealed IS NOT NULL", id).
		Updates(map[string]any{"child_sealed": nil, "child_until": nil}).Error
	return res.RowsAffected == 1, db.Map(err)
}

// userFamilies lists a user's live families, newest use first.
func (s *Store) userFamilies(ctx context.Context, userID string, now time.Time) ([]familyRow, error) {
	var out []familyRow
	err := db.Conn(ctx, s.g).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now).
		Order("last_used_at DESC").Find(&out).Error
	return out, db.Map(err)
}

// purgeRefresh drops expired families (their tokens cascade) and sealed
// children past their grace window, up to limit rows each.
func (s *Store) purgeRefresh(ctx context.Context, now time.Time, limit int) (int64, error) {
	n, err := db.DeleteBatch(ctx, s.g, &familyRow{}, "id", limit, "expires_at <= ?", now)
	if err != nil {
		return n, err
	}
	sub := db.Conn(ctx, s.g).Model(&refreshRow{}).Select("token_hash").Where("child_until <= ?", now).Limit(limit)
	res := db.Conn(ctx, s.g).Model(&refreshRow{}).Where("token_hash IN (?)", sub).
		Updates(map[string]any{"child_sealed": nil, "child_until": nil})
	return n + res.RowsAffected, db.Map(res.Error)
}
