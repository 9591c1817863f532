package users

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"idp/db"
)

// Errors of the Service. Callers test them with errors.Is; their text is
// fit to show to the person who typed the input.
var (
	// ErrInvalidCredentials is the one answer to a failed sign-in, whether
	// the email is unknown, the password wrong or the account disabled, so
	// the answer does not reveal which accounts exist.
	ErrInvalidCredentials = errors.New("wrong email or password")
	// ErrEmailTaken means another account has this email, ignoring case.
	// It comes wrapped together with db.ErrConflict.
	ErrEmailTaken = errors.New("email address already registered")
	// ErrWeakPassword means the password breaks the policy (checkPassword):
	// 8 to 1024 bytes, not only whitespace, not a commonly used password,
	// not containing the email's local part. The wrapping error says which.
	ErrWeakPassword = errors.New("password not accepted")
	// ErrInvalidEmail means the email is not a single bare address.
	ErrInvalidEmail = errors.New("invalid email address")
)

// Service applies the account rules (validation, hashing, constant-cost
// sign-in) on top of a Store. It is safe for concurrent use.
type Service struct {
	store  *Store
	params Params
	now    func() time.Time

	// dummy is a hash of a random password with params, verified when the
	// email is unknown so that case costs one full argon2id run too.
	dummyOnce sync.Once
	dummy     string
	dummyErr  error

	// slots bounds concurrent argon2id runs to the CPUs: each takes
	// params.Memory of RAM, so a sign-in storm queues instead of
	// allocating without limit.
	slots chan struct{}
}

// ErrBusy means every password-hashing slot stayed taken for SlotWait: the
// server is overloaded with sign-ins and the caller should retry later.
var ErrBusy = errors.New("too many sign-ins at once; try again shortly")

// SlotWait is how long a sign-in queues for a hashing slot.
const SlotWait = 10 * time.Second

// Hashing reports how many argon2id runs are in flight or about to start.
func (s *Service) Hashing() int { return len(s.slots) }

// slot waits for a hashing slot and returns its release.
func (s *Service) slot(ctx context.Context) (func(), error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	default:
	}
	t := time.NewTimer(SlotWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// NewService returns a Service that hashes new passwords with p and takes
// timestamps from now (time.Now if nil). Check p with Params.Validate at
// start-up: invalid parameters otherwise surface as errors on first use.
func NewService(store *Store, p Params, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, params: p, now: now, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	// Compute the dummy hash now, off the request path, so even the first
	// unknown-email sign-in costs exactly one verification.
	go s.dummyOnce.Do(s.makeDummy)
	return s
}

// Prepare waits for the start-up work of the service: the dummy hash
// that sign-ins of unknown emails are checked against, computed in the
// background from NewService on.
func (s *Service) Prepare() { s.dummyOnce.Do(s.makeDummy) }

func (s *Service) makeDummy() { s.dummy, s.dummyErr = HashPassword(rand.Text(), s.params) }

// Store returns the Store the Service writes through, for reads such as
// listing users.
func (s *Service) Store() *Store { return s.store }

// Create validates and stores a new user. The email is trimmed of
// surrounding space and must be a bare address; the password must pass the
// policy; roles are trimmed, emptied ones dropped and duplicates removed.
// Nothing is written unless every check passes. An email taken in any case
// returns an error wrapping both ErrEmailTaken and db.ErrConflict.
func (s *Service) Create(ctx context.Context, email, password, name string, roles []string) (*User, error) {
	email = strings.TrimSpace(email)
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	if err := checkPassword(email, password); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return s.create(ctx, email, hash, name, roles)
}

// create stores a user whose email and password hash are checked.
func (s *Service) create(ctx context.Context, email, hash, name string, roles []string) (*User, error) {
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	// Microseconds: what PostgreSQL keeps, so the returned User equals
	// the one read back on either dialect.
	now := s.now().UTC().Truncate(time.Microsecond)
	u := &User{
		ID: id, Email: email, Name: strings.TrimSpace(name), Roles: normalizeRoles(roles),
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.Create(ctx, u); err != nil {
		// A random 128-bit id does not collide, so a conflict is the email.
		if errors.Is(err, db.ErrConflict) {
			return nil, fmt.Errorf("%w: %w", ErrEmailTaken, db.ErrConflict)
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Authenticate returns the user whose email and password match, or an
// error wrapping ErrInvalidCredentials. Every outcome that depends on the
// account costs one argon2id verification, so timing does not tell an
// unknown email from a wrong password; a disabled account is reported only
// after its password was verified, so its state is not revealed to someone
// who does not know the password. A hash made with other parameters than
// the Service's is replaced, now that the password is at hand.
func (s *Service) Authenticate(ctx context.Context, email, password string) (*User, error) {
	if len(password) > maxPasswordLen {
		// No stored password is this long; refusing it before any lookup
		// costs the same for every email and bounds the hashing work.
		return nil, ErrInvalidCredentials
	}
	u, err := s.store.ByEmail(ctx, strings.TrimSpace(email))
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	release, serr := s.slot(ctx)
	if serr != nil {
		return nil, serr
	}
	defer release()
	// The span covers the one argon2id verification every outcome costs;
	// it names no account.
	_, span := tracer.Start(ctx, "argon2id verify")
	defer span.End()
	if errors.Is(err, db.ErrNotFound) {
		return nil, s.verifyDummy(password)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if u.PasswordHash == "" {
		// No password at all (CreatePasswordless): no password matches,
		// and the answer costs what a wrong one does.
		return nil, s.verifyDummy(password)
	}
	ok, rehash, err := VerifyPassword(u.PasswordHash, password, s.params)
	if err != nil {
		// A corrupt stored hash must look like a wrong password from
		// outside, in answer and in time; the operator learns from the log.
		slog.ErrorContext(ctx, "users: stored password hash unusable", "user_id", u.ID, "err", err)
		return nil, s.verifyDummy(password)
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	if u.Disabled {
		return nil, fmt.Errorf("%w: account disabled", ErrInvalidCredentials)
	}
	if rehash {
		s.upgradeHash(ctx, u, password)
	}
	return u, nil
}

// verifyDummy spends one argon2id verification against the dummy hash and
// returns ErrInvalidCredentials, or the error that kept it from running.
func (s *Service) verifyDummy(password string) error {
	s.dummyOnce.Do(s.makeDummy)
	if s.dummyErr != nil {
		return fmt.Errorf("authenticate: %w", s.dummyErr)
	}
	if _, _, err := VerifyPassword(s.dummy, password, s.params); err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	return ErrInvalidCredentials
}

// upgradeHash stores a hash of password made with the current parameters.
// Failure is logged and otherwise ignored: the sign-in itself succeeded and
// the next one retries. The swap is conditional on the old hash, so a reset
// that happened meanwhile wins.
func (s *Service) upgradeHash(ctx context.Context, u *User, password string) {
	hash, err := s.hashPassword(ctx, password)
	if err == nil {
		err = s.store.swapPasswordHash(ctx, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		slog.WarnContext(ctx, "users: password hash upgrade skipped", "user_id", u.ID, "err", err)
		return
	}
	u.PasswordHash = hash
	slog.InfoContext(ctx, "users: password hash upgraded", "user_id", u.ID)
}

// SetPassword replaces the password of the user with email (an
// administrator's reset). The new password must pass the policy; an
// unknown email returns an error wrapping db.ErrNotFound.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	if err := checkPassword(strings.TrimSpace(email), password); err != nil {
		return err
	}
	u, err := s.store.ByEmail(ctx, strings.TrimSpace(email))
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := s.store.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// CreateHashed is Create with a password PreparePassword already checked
// and hashed, so a caller can spend the hash's time whether or not the
// account can be made (sign-up answers alike for taken addresses).
func (s *Service) CreateHashed(ctx context.Context, email, hash, name string, roles []string) (*User, error) {
	email = strings.TrimSpace(email)
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	return s.create(ctx, email, hash, name, roles)
}

// PreparePassword checks password against the policy for the account
// email and returns its hash, touching no row: a caller that stores it
// inside a transaction (SetPasswordHash) keeps the slow hash out of it.
func (s *Service) PreparePassword(ctx context.Context, email, password string) (string, error) {
	if err := checkPassword(strings.TrimSpace(email), password); err != nil {
		return "", err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Disable stops the user with email from signing in; an unknown email
// returns an error wrapping db.ErrNotFound. Sessions and refresh tokens
// already issued belong to other packages; the caller ends them.
func (s *Service) Disable(ctx context.Context, email string) error {
	u, err := s.store.ByEmail(ctx, strings.TrimSpace(email))
	if err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	if err := s.store.SetDisabled(ctx, u.ID, true); err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	return nil
}

// Update sets the display name and roles of the user with id; roles are
// trimmed, emptied ones dropped and duplicates removed, as Create does. An
// unknown id returns an error wrapping db.ErrNotFound.
func (s *Service) Update(ctx context.Context, id, name string, roles []string) (*User, error) {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	u.Name, u.Roles = strings.TrimSpace(name), normalizeRoles(roles)
	if err := s.store.SetProfile(ctx, u.ID, u.Name, u.Roles); err != nil {
		return nil, fmt.Errorf("update user: %w", err)
	}
	return u, nil
}

// tracer opens the spans of password hashing (a no-op unless tracing is
// configured).
var tracer = otel.Tracer("idp/users")

// hashPassword is HashPassword with the service's cost, in a span.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	_, span := tracer.Start(ctx, "argon2id hash")
	defer span.End()
	return HashPassword(password, s.params)
}
