package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

func TestMigrateTwiceIsANoOp(t *testing.T) {
	d := dbtest.Open(t) // migrated once
	ctx := context.Background()
	v1, err := d.Version(ctx)
	if err != nil || v1 < 1 {
		t.Fatalf("version after first migrate = %d, %v", v1, err)
	}
	if err := d.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	v2, _ := d.Version(ctx)
	if v2 != v1 {
		t.Fatalf("version moved from %d to %d on a second run", v1, v2)
	}
}

func TestMigrateOnPostgres(t *testing.T) {
	dbtest.RequirePostgres(t)
	d := dbtest.Open(t)
	if d.Dialect != db.Postgres {
		t.Fatalf("dialect = %s", d.Dialect)
	}
	var n int64
	if err := d.Gorm.Raw("SELECT count(*) FROM signing_keys").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
}

func TestReplicasMigratingTogether(t *testing.T) {
	dsn := dbtest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := db.Open(ctx, dsn, db.Options{})
			if err != nil {
				errs[i] = err
				return
			}
			defer d.Close()
			errs[i] = d.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"missing folder": filepath.Join(t.TempDir(), "no", "such", "dir", "idp.db"),
		"query in path":  "idp.db?mode=ro",
		"empty":          "",
		"unreachable pg": "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
	}
	for name, dsn := range cases {
		t.Run(name, func(t *testing.T) {
			if d, err := db.Open(ctx, dsn, db.Options{}); err == nil {
				d.Close()
				t.Fatalf("Open(%q) succeeded", dsn)
			}
		})
	}
}

func TestTxRollsBackAndMapsErrors(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	insert := func(ctx context.Context, id, email string) error {
		return db.Map(db.Conn(ctx, d.Gorm).Exec(
			"INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)",
			id, email, now, now).Error)
	}
	err := d.Tx(ctx, func(ctx context.Context) error {
		if err := insert(ctx, "a", "a@example.com"); err != nil {
			return err
		}
		return insert(ctx, "b", "A@example.com") // same email, other case
	})
	if !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate email: err = %v, want ErrConflict", err)
	}
	var n int64
	d.Gorm.Raw("SELECT count(*) FROM users").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows survived a rolled-back transaction", n)
	}
	var row struct{ ID string }
	err = db.Map(d.Gorm.Table("users").Where("id = ?", "zz").First(&row).Error)
	if !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("missing row: err = %v, want ErrNotFound", err)
	}
}

// Many concurrent transactions all commit: on SQLite the write gate queues
// them without one "database is locked", on PostgreSQL row locks do.
func TestConcurrentWritersAllCommit(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	if err := d.Gorm.Exec("CREATE TABLE gate_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	if err := d.Gorm.Exec("INSERT INTO gate_counter (id, n) VALUES (1, 0)").Error; err != nil {
		t.Fatal(err)
	}
	const workers, each = 32, 25
	var (
		wg     sync.WaitGroup
		inside atomic.Int32
		mu     sync.Mutex
		errs   []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := d.Tx(ctx, func(ctx context.Context) error {
					if inside.Add(1) > 1 && d.Dialect == db.SQLite {
						t.Error("two SQLite write transactions inside at once")
					}
					defer inside.Add(-1)
					return db.Conn(ctx, d.Gorm).Exec("UPDATE gate_counter SET n = n + 1 WHERE id = 1").Error
				})
				if err == nil { // an autocommit write too
					err = d.Gorm.Exec("UPDATE gate_counter SET n = n + 1 WHERE id = 1").Error
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d writes failed, first: %v", len(errs), errs[0])
	}
	var n int
	if err := d.Gorm.Raw("SELECT n FROM gate_counter WHERE id = 1").Scan(&n).Error; err != nil || n != 2*workers*each {
		t.Fatalf("n = %d (%v), want %d", n, err, 2*workers*each)
	}
}

// Exec and QueryRow take ? placeholders on both dialects, join the
// transaction in ctx and map errors like GORM calls do.
func TestRawExecAndQueryRow(t *testing.T) {
	d := dbtest.Open(t)
	ctx := context.Background()
	now := time.Now().UTC()
	insert := func(ctx context.Context, id, email string) error {
		_, err := db.Exec(ctx, d.Gorm, "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)",
			id, email, now, now)
		return err
	}
	err := d.Tx(ctx, func(ctx context.Context) error {
		if err := insert(ctx, "a", "a@example.com"); err != nil {
			return err
		}
		var email string
		if err := db.QueryRow(ctx, d.Gorm, "SELECT email FROM users WHERE id = ?", "a").Scan(&email); err != nil {
			return fmt.Errorf("read own write in tx: %w", err)
		}
		return insert(ctx, "b", "A@example.com")
	})
	if !errors.Is(err, db.ErrConflict) {
		t.Fatalf("duplicate email: err = %v, want ErrConflict", err)
	}
	var email string
	err = db.ScanErr(d.Gorm, db.QueryRow(ctx, d.Gorm, "SELECT email FROM users WHERE id = ?", "a").Scan(&email))
	if !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("rolled-back row: err = %v, want ErrNotFound", err)
	}
	if err := insert(ctx, "c", "c@example.com"); err != nil {
		t.Fatal(err)
	}
	n, err := db.Exec(ctx, d.Gorm, "UPDATE users SET name = ? WHERE id = ? AND email = ?", "C", "c", "c@example.com")
	if err != nil || n != 1 {
		t.Fatalf("update: n = %d, err = %v", n, err)
	}
}

// TestOpenFreshSQLiteTogether: processes starting on a new SQLite file at
// the same moment (idp migrate beside idp serve, replicas in a test) all
// open it; the switch to WAL once made the losers fail with "database is
// locked" within a few rounds.
func TestOpenFreshSQLiteTogether(t *testing.T) {
	for round := range 30 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("fresh-%d.db", round))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				d, err := db.Open(context.Background(), path, db.Options{})
				if err == nil {
					_ = d.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
