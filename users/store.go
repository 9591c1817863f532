package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"idp/db"
)

// Store reads and writes the users table. Every query goes through db.Conn,
// so a Store call made inside db.Tx joins that transaction, and every error
// goes through db.Map, so callers test for db.ErrNotFound and db.ErrConflict
// and never for driver errors.
type Store struct {
	g *gorm.DB
}

// NewStore returns a Store over g (a migrated database: the schema comes
// from the migrations package, never from AutoMigrate).
func NewStore(g *gorm.DB) *Store {
	return &Store{g: g}
}

// userRow is the users table as GORM sees it. It stays apart from User so
// that the JSON encoding of roles and the GORM tags stay in this file.
type userRow struct {
	ID            string `gorm:"primaryKey"`
	Email         string
	EmailVerified bool
	Name          string
	Roles         string // JSON array of strings
	PasswordHash  string
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName tells GORM the table name instead of letting it guess.
func (userRow) TableName() string { return "users" }

// toRow converts u to its table form; nil roles are stored as [].
func toRow(u *User) (userRow, error) {
	roles := u.Roles
	if roles == nil {
		roles = []string{} // "[]", as the column default, not "null"
	}
	b, err := json.Marshal(roles)
	if err != nil {
		return userRow{}, fmt.Errorf("encode roles: %w", err)
	}
	return userRow{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		Roles: string(b), PasswordHash: u.PasswordHash, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}, nil
}

// user converts a row back into a User.
func (r *userRow) user() (*User, error) {
	var roles []string
	if err := json.Unmarshal([]byte(r.Roles), &roles); err != nil {
		return nil, fmt.Errorf("user %s: decode roles: %w", r.ID, err)
	}
	// PostgreSQL drivers return times in the local zone; User promises UTC.
	return &User{
		ID: r.ID, Email: r.Email, EmailVerified: r.EmailVerified, Name: r.Name,
		Roles: roles, PasswordHash: r.PasswordHash, Disabled: r.Disabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

// Create inserts u as given; zero timestamps are set to the current time
// and copied back into u. An email that differs from an existing one only
// in case is an error wrapping db.ErrConflict: the unique index on
// lower(email) decides, so two concurrent creations cannot both succeed.
func (s *Store) Create(ctx context.Context, u *User) error {
	if u.ID == "" {
		return errors.New("create user: empty id")
	}
	row, err := toRow(u)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	// Filled here rather than by GORM, whose now() has nanoseconds: in UTC
	// and to the microsecond, what PostgreSQL keeps, so the User copied back
	// equals the one a later read returns on either dialect.
	now := time.Now().UTC().Truncate(time.Microsecond)
	if row.CreatedAt.IsZero() {
		row.CreatedAt = now
	}
	if row.UpdatedAt.IsZero() {
		row.UpdatedAt = now
	}
	if err := db.Conn(ctx, s.g).Create(&row).Error; err != nil {
		return fmt.Errorf("create user: %w", db.Map(err))
	}
	u.CreatedAt, u.UpdatedAt = row.CreatedAt, row.UpdatedAt
	return nil
}

// ByID returns the user with id, or an error wrapping db.ErrNotFound.
//
// It is on every refresh, code redemption and userinfo request, so it
// scans the row by hand instead of going through GORM's reflection.
func (s *Store) ByID(ctx context.Context, id string) (*User, error) {
	var r userRow
	err := db.QueryRow(ctx, s.g, `SELECT id, email, email_verified, name, roles, password_hash, disabled,
		created_at, updated_at FROM users WHERE id = ?`, id).Scan(
		&r.ID, &r.Email, &r.EmailVerified, &r.Name, &r.Roles, &r.PasswordHash, &r.Disabled, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("user by id: %w", db.ScanErr(s.g, err))
	}
	return r.user()
}

// ByEmail returns the user whose email equals email ignoring case, or an
// error wrapping db.ErrNotFound. The lower(email) expression matches the
// unique index, so the lookup is an index scan on both dialects.
func (s *Store) ByEmail(ctx context.Context, email string) (*User, error) {
	var row userRow
	if err := db.Conn(ctx, s.g).Where("lower(email) = lower(?)", email).Take(&row).Error; err != nil {
		return nil, fmt.Errorf("user by email: %w", db.Map(err))
	}
	return row.user()
}

// List returns every user ordered by email, ignoring case, then id, so the
// order is the same on SQLite and PostgreSQL whatever their collations.
func (s *Store) List(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := db.Conn(ctx, s.g).Order("lower(email), id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list users: %w", db.Map(err))
	}
	out := make([]User, 0, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, *u)
	}
	return out, nil
}

// Count returns the number of users; serve uses it to decide whether to
// create the first admin.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := db.Conn(ctx, s.g).Model(&userRow{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count users: %w", db.Map(err))
	}
	return n, nil
}

// SetPasswordHash replaces the password hash of user id unconditionally
// (an administrator's reset); db.ErrNotFound if there is no such user.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	return s.update(ctx, "set password hash", db.ErrNotFound,
		map[string]any{"password_hash": hash}, "id = ?", id)
}

// SetDisabled sets or clears the disabled flag of user id; db.ErrNotFound
// if there is no such user.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return s.update(ctx, "set disabled", db.ErrNotFound,
		map[string]any{"disabled": disabled}, "id = ?", id)
}

// SetProfile replaces the name and roles of user id (roles as given: the
// Service normalises them); db.ErrNotFound if there is no such user.
func (s *Store) SetProfile(ctx context.Context, id, name string, roles []string) error {
	if roles == nil {
		roles = []string{}
	}
	b, err := json.Marshal(roles)
	if err != nil {
		return fmt.Errorf("set profile: %w", err)
	}
	return s.update(ctx, "set profile", db.ErrNotFound,
		map[string]any{"name": name, "roles": string(b)}, "id = ?", id)
}

// swapPasswordHash replaces the hash only if it is still old: a rehash on
// sign-in must not undo a password reset that landed after the user row was
// read. db.ErrConflict if the hash changed or the user is gone.
func (s *Store) swapPasswordHash(ctx context.Context, id, old, hash string) error {
	return s.update(ctx, "upgrade password hash", db.ErrConflict,
		map[string]any{"password_hash": hash}, "id = ? AND password_hash = ?", id, old)
}

// update sets cols and updated_at on the rows matching where, and returns
// an error wrapping none when no row matched.
func (s *Store) update(ctx context.Context, op string, none error, cols map[string]any, where string, args ...any) error {
	cols["updated_at"] = time.Now().UTC()
	res := db.Conn(ctx, s.g).Model(&userRow{}).Where(where, args...).Updates(cols)
	if res.Error != nil {
		return fmt.Errorf("%s: %w", op, db.Map(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", op, none)
	}
	return nil
}
