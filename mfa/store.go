package mfa

import (
	"context"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store reads and writes the factor tables. Every query goes through
// db.Conn (joining a transaction in the context) and db.Map.
type Store struct{ g *gorm.DB }

// NewStore returns a Store over a migrated database.
func NewStore(g *gorm.DB) *Store { return &Store{g: g} }

type passkeyRow struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	Name       string
	AAGUID     string    `gorm:"column:aaguid"`
	Credential string    // go-webauthn's Credential as JSON
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	LastUsedAt *time.Time
}

func (passkeyRow) TableName() string { return "passkeys" }

type totpRow struct {
	UserID      string `gorm:"primaryKey"`
	SecretEnc   []byte
	LastStep    int64
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	ConfirmedAt *time.Time
	LastUsedAt  *time.Time
}

func (totpRow) TableName() string { return "totp_factors" }

type recoveryRow struct {
	CodeHash  string `gorm:"primaryKey"`
	UserID    string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UsedAt    *time.Time
}

func (recoveryRow) TableName() string { return "recovery_codes" }

type ceremonyRow struct {
	HandleHash string `gorm:"primaryKey"`
	Kind       string
	UserID     string
	Data       string
	ExpiresAt  time.Time
}

func (ceremonyRow) TableName() string { return "webauthn_ceremonies" }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Store) tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.Tx(ctx, s.g, fn)
}

// passkeys returns a user's passkeys, oldest first.
func (s *Store) passkeys(ctx context.Context, userID string) ([]passkeyRow, error) {
	var rows []passkeyRow
	err := db.Conn(ctx, s.g).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error
	for i := range rows {
		rows[i].CreatedAt, rows[i].LastUsedAt = rows[i].CreatedAt.UTC(), utcPtr(rows[i].LastUsedAt)
	}
	return rows, db.Map(err)
}

func (s *Store) createPasskey(ctx context.Context, r *passkeyRow) error {
	r.CreatedAt = r.CreatedAt.UTC()
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// usePasskey records an assertion: the credential's new state (sign
// count, flags) and its last use. It only updates a passkey still owned
// by userID and still in the state the assertion was checked against
// (checked), so of two assertions racing with one sign count (a cloned
// authenticator, or one replayed answer) only one is recorded; the other
// gets false.
func (s *Store) usePasskey(ctx context.Context, userID, id, checked, credential string, at time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&passkeyRow{}).Where("id = ? AND user_id = ? AND credential = ?", id, userID, checked).
		Updates(map[string]any{"credential": credential, "last_used_at": at.UTC()})
	return res.RowsAffected == 1, db.Map(res.Error)
}

func (s *Store) deletePasskey(ctx context.Context, userID, id string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("id = ? AND user_id = ?", id, userID).Delete(&passkeyRow{})
	return res.RowsAffected, db.Map(res.Error)
}

func (s *Store) totp(ctx context.Context, userID string) (*totpRow, error) {
	var r totpRow
	if err := db.Map(db.Conn(ctx, s.g).Where("user_id = ?", userID).Take(&r).Error); err != nil {
		return nil, err
	}
	r.CreatedAt, r.ConfirmedAt, r.LastUsedAt = r.CreatedAt.UTC(), utcPtr(r.ConfirmedAt), utcPtr(r.LastUsedAt)
	return &r, nil
}

// putPendingTOTP stores an unconfirmed secret, replacing an earlier
// unconfirmed one; a confirmed factor is never replaced this way (false).
func (s *Store) putPendingTOTP(ctx context.Context, r *totpRow) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(ctx context.Context) error {
		var n int64
		if err := db.Conn(ctx, s.g).Model(&totpRow{}).Where("user_id = ? AND confirmed_at IS NOT NULL", r.UserID).
			Count(&n).Error; err != nil || n > 0 {
			return db.Map(err) // a confirmed factor is in place
		}
		if err := db.Conn(ctx, s.g).Where("user_id = ?", r.UserID).Delete(&totpRow{}).Error; err != nil {
			return db.Map(err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		if err := db.Map(db.Conn(ctx, s.g).Create(r).Error); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return ok, err
}

// acceptStep records that a code of time step step was accepted, only if
// no code of that step or a later one was accepted before: the one write
// that makes each code single-use across replicas. confirm also marks a
// pending factor confirmed (the enrollment's first code); otherwise the
// factor must already be confirmed.
func (s *Store) acceptStep(ctx context.Context, userID string, step int64, confirm bool, at time.Time) (bool, error) {
	q := db.Conn(ctx, s.g).Model(&totpRow{}).Where("user_id = ? AND last_step < ?", userID, step)
	fields := map[string]any{"last_step": step, "last_used_at": at.UTC()}
	if confirm {
		q = q.Where("confirmed_at IS NULL")
		fields["confirmed_at"] = at.UTC()
	} else {
		q = q.Where("confirmed_at IS NOT NULL")
	}
	res := q.Updates(fields)
	return res.RowsAffected == 1, db.Map(res.Error)
}

func (s *Store) deleteTOTP(ctx context.Context, userID string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("user_id = ?", userID).Delete(&totpRow{})
	return res.RowsAffected, db.Map(res.Error)
}

// replaceRecovery deletes every recovery code of a user and inserts hashes.
func (s *Store) replaceRecovery(ctx context.Context, userID string, hashes []string, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context) error {
		if err := db.Map(db.Conn(ctx, s.g).Where("user_id = ?", userID).Delete(&recoveryRow{}).Error); err != nil {
			return err
		}
		rows := make([]recoveryRow, len(hashes))
		for i, h := range hashes {
			rows[i] = recoveryRow{CodeHash: h, UserID: userID, CreatedAt: at.UTC()}
		}
		return db.Map(db.Conn(ctx, s.g).Create(&rows).Error)
	})
}

// useRecovery spends one unused code of a user: exactly one of racing
// requests with the same code sees true.
func (s *Store) useRecovery(ctx context.Context, userID, hash string, at time.Time) (bool, error) {
	res := db.Conn(ctx, s.g).Model(&recoveryRow{}).Where("code_hash = ? AND user_id = ? AND used_at IS NULL", hash, userID).
		Update("used_at", at.UTC())
	return res.RowsAffected == 1, db.Map(res.Error)
}

// recoveryLeft counts a user's unused and all recovery codes.
func (s *Store) recoveryLeft(ctx context.Context, userID string) (left, total int64, err error) {
	if err = db.Map(db.Conn(ctx, s.g).Model(&recoveryRow{}).Where("user_id = ?", userID).Count(&total).Error); err != nil {
		return 0, 0, err
	}
	err = db.Map(db.Conn(ctx, s.g).Model(&recoveryRow{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&left).Error)
	return left, total, err
}

func (s *Store) deleteRecovery(ctx context.Context, userID string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("user_id = ?", userID).Delete(&recoveryRow{})
	return res.RowsAffected, db.Map(res.Error)
}

func (s *Store) createCeremony(ctx context.Context, r *ceremonyRow) error {
	r.ExpiresAt = r.ExpiresAt.UTC()
	return db.Map(db.Conn(ctx, s.g).Create(r).Error)
}

// takeCeremony loads and deletes a ceremony in one transaction: a
// challenge answers at most one ceremony, however many requests race.
func (s *Store) takeCeremony(ctx context.Context, hash string) (*ceremonyRow, error) {
	var r ceremonyRow
	err := s.tx(ctx, func(ctx context.Context) error {
		if err := db.Map(db.Conn(ctx, s.g).Where("handle_hash = ?", hash).Take(&r).Error); err != nil {
			return err
		}
		res := db.Conn(ctx, s.g).Where("handle_hash = ?", hash).Delete(&ceremonyRow{})
		if res.Error != nil {
			return db.Map(res.Error)
		}
		if res.RowsAffected != 1 {
			return db.ErrNotFound
		}
		return nil
	})
	r.ExpiresAt = r.ExpiresAt.UTC()
	return &r, err
}

// DeleteExpired removes up to limit expired ceremonies.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return db.DeleteBatch(ctx, s.g, &ceremonyRow{}, "handle_hash", limit, "expires_at <= ?", now.UTC())
}

func (s *Store) deletePasskeysOf(ctx context.Context, userID string) (int64, error) {
	res := db.Conn(ctx, s.g).Where("user_id = ?", userID).Delete(&passkeyRow{})
	return res.RowsAffected, db.Map(res.Error)
}
