package keys

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// row is one signing_keys row. PrivateEnc is nil once the private part was
// destroyed (retired or revoked keys).
type row struct {
	KID         string     `gorm:"column:kid;primaryKey"`
	Alg         string     `gorm:"column:alg"`
	State       string     `gorm:"column:state"`
	PrivateEnc  []byte     `gorm:"column:private_enc"`
	PublicJWK   string     `gorm:"column:public_jwk"`
	CreatedAt   time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ActivatedAt *time.Time `gorm:"column:activated_at"`
	RetiredAt   *time.Time `gorm:"column:retired_at"`
	NotAfter    *time.Time `gorm:"column:not_after"`
	SignsFrom   *time.Time `gorm:"column:signs_from"`
	SignedUntil *time.Time `gorm:"column:signed_until"`
}

// TableName tells GORM the table; the migrations, not GORM, define it.
func (row) TableName() string { return "signing_keys" }

// utc normalises times read back: PostgreSQL returns them in the session
// zone and SQLite in whatever zone was written.
func (r *row) utc() {
	r.CreatedAt = r.CreatedAt.UTC()
	for _, t := range []*time.Time{r.ActivatedAt, r.RetiredAt, r.NotAfter, r.SignsFrom, r.SignedUntil} {
		if t != nil {
			*t = t.UTC()
		}
	}
}

// change is a conditional state transition: the row moves to State only if
// it is still in the state the caller saw. Nil times are left unchanged.
type change struct {
	State          string
	ActivatedAt    *time.Time
	RetiredAt      *time.Time
	NotAfter       *time.Time
	DestroyPrivate bool
}

// store is the only code that talks to signing_keys. It sits beside
// NewManager because both need GORM, which no other file of the package may
// import (STYLE 1.1).
type store struct{ g *gorm.DB }

// NewManager returns a Manager over the signing_keys table of g. It does no
// I/O: call Bootstrap at startup before serving.
func NewManager(g *gorm.DB, mk MasterKey, o Options) *Manager {
	return newManager(&store{g: g}, mk, o)
}

// tx runs fn in one transaction (joined if ctx already carries one).
// Key changes are rare and must survive even an operating-system crash:
// on SQLite, whose WAL runs with synchronous=NORMAL, a checkpoint after the
// commit forces the change to disk.
func (s *store) tx(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := db.Tx(ctx, s.g, fn); err != nil {
		return err
	}
	// Inside a caller's transaction the commit is the caller's; checkpoint
	// only after our own.
	if db.OnSQLite(s.g) && !db.InTx(ctx) {
		_ = s.g.WithContext(ctx).Exec("PRAGMA wal_checkpoint(FULL)").Error
	}
	return nil
}

// live returns the next, active and retired rows; revoked rows are never
// needed to sign or verify. Expiry of retired rows is checked in Go, since
// SQLite compares DATETIME values as text.
func (s *store) live(ctx context.Context) ([]row, error) {
	var rows []row
	err := db.Conn(ctx, s.g).
		Where("state IN ?", []string{StateNext, StateActive, StateRetired}).
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", db.Map(err))
	}
	for i := range rows {
		rows[i].utc()
	}
	return rows, nil
}

// all returns every row as a Key. The sealed private parts stay in the
// database: listing only needs to know whether one exists.
func (s *store) all(ctx context.Context) ([]Key, error) {
	var rows []struct {
		Row        row  `gorm:"embedded"`
		HasPrivate bool `gorm:"column:has_private"`
	}
	err := db.Conn(ctx, s.g).Model(&row{}).
		Select("kid, alg, state, public_jwk, created_at, activated_at, retired_at, not_after, signs_from, signed_until, " +
			"private_enc IS NOT NULL AS has_private").
		Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", db.Map(err))
	}
	out := make([]Key, len(rows))
	for i := range rows {
		rows[i].Row.utc()
		out[i] = rows[i].Row.key()
		out[i].HasPrivate = rows[i].HasPrivate
	}
	return out, nil
}

// find returns one row; a missing kid is db.ErrNotFound.
func (s *store) find(ctx context.Context, kid string) (row, error) {
	var r row
	err := db.Conn(ctx, s.g).Where("kid = ?", kid).Take(&r).Error
	if err != nil {
		return row{}, fmt.Errorf("key %s: %w", kid, db.Map(err))
	}
	r.utc()
	return r, nil
}

// insert adds a row; a second active or next key for the alg violates a
// partial unique index and comes back as db.ErrConflict.
func (s *store) insert(ctx context.Context, r *row) error {
	if err := db.Conn(ctx, s.g).Create(r).Error; err != nil {
		return fmt.Errorf("insert key %s: %w", r.KID, db.Map(err))
	}
	return nil
}

// transition applies c to kid only while the row is still in state from.
// Zero rows affected means another process changed it first: db.ErrConflict.
// This compare-and-swap is what keeps replicas from double rotating without
// relying on isolation levels that differ between SQLite and PostgreSQL.
func (s *store) transition(ctx context.Context, kid, from string, c change) error {
	set := map[string]any{"state": c.State}
	if c.ActivatedAt != nil {
		set["activated_at"] = *c.ActivatedAt
	}
	if c.RetiredAt != nil {
		set["retired_at"] = *c.RetiredAt
	}
	if c.NotAfter != nil {
		set["not_after"] = *c.NotAfter
	}
	if c.DestroyPrivate {
		set["private_enc"] = nil
	}
	res := db.Conn(ctx, s.g).Model(&row{}).
		Where("kid = ? AND state = ?", kid, from).
		Updates(set)
	if res.Error != nil {
		return fmt.Errorf("key %s %s -> %s: %w", kid, from, c.State, db.Map(res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("key %s is no longer %s: %w", kid, from, db.ErrConflict)
	}
	return nil
}

// pair returns the active and next rows of alg; either is nil if missing.
func (s *store) pair(ctx context.Context, alg string) (active, next *row, err error) {
	var rows []row
	err = db.Conn(ctx, s.g).
		Where("alg = ? AND state IN ?", alg, []string{StateActive, StateNext}).
		Find(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("load %s keys: %w", alg, db.Map(err))
	}
	for i := range rows {
		rows[i].utc()
		if rows[i].State == StateActive {
			active = &rows[i]
		} else {
			next = &rows[i]
		}
	}
	return active, next, nil
}
