package db

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
)

// openGated opens a fresh SQLite file with one table and returns its gate.
func openGated(t *testing.T, opts Options) (*DB, *writeGate) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gate.db")
	d, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Gorm.Exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	if err := d.Gorm.Exec("INSERT INTO counter (id, n) VALUES (1, 0)").Error; err != nil {
		t.Fatal(err)
	}
	return d, gateFor(path)
}

func requireFree(t *testing.T, g *writeGate) {
	t.Helper()
	if n := len(g.ch); n != 0 {
		t.Fatalf("write gate still held (%d)", n)
	}
}

func TestGateReleasedOnCommitRollbackAndPanic(t *testing.T) {
	d, g := openGated(t, Options{})
	ctx := context.Background()
	inc := func(ctx context.Context) error {
		if len(g.ch) != 1 {
			t.Error("transaction runs without holding the gate")
		}
		return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 1").Error
	}
	if err := d.Tx(ctx, inc); err != nil {
		t.Fatal(err)
	}
	requireFree(t, g)

	boom := errors.New("boom")
	if err := d.Tx(ctx, func(ctx context.Context) error { _ = inc(ctx); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	requireFree(t, g)

	func() {
		defer func() { _ = recover() }()
		_ = d.Tx(ctx, func(ctx context.Context) error { _ = inc(ctx); panic("in tx") })
	}()
	requireFree(t, g)

	// GORM's default transaction around an autocommit write, and a raw Exec.
	if err := d.Gorm.Table("counter").Where("id = 1").Update("n", 5).Error; err != nil {
		t.Fatal(err)
	}
	requireFree(t, g)
	if err := d.Gorm.Exec("UPDATE counter SET n = n + 1").Error; err != nil {
		t.Fatal(err)
	}
	requireFree(t, g)
	var n int
	d.Gorm.Raw("SELECT n FROM counter").Scan(&n)
	if n != 6 {
		t.Fatalf("n = %d, want 6 (one commit, rollbacks undone, then 5+1)", n)
	}
}

func TestGateReleasedWhenBeginFails(t *testing.T) {
	raw, err := sql.Open(sqlite.DriverName, filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Close()
	p := &gatedPool{db: raw, gate: newWriteGate()}
	if _, err := p.BeginTx(context.Background(), nil); err == nil {
		t.Fatal("BeginTx on a closed pool succeeded")
	}
	requireFree(t, p.gate)
	if _, err := p.ExecContext(context.Background(), "UPDATE x SET y = 1"); err == nil {
		t.Fatal("Exec on a closed pool succeeded")
	}
	requireFree(t, p.gate)
}

// A writer waiting at the gate holds no connection, so with a pool of two
// a reader still gets the second one while the first is in a transaction.
func TestReaderNotBlockedByWaitingWriter(t *testing.T) {
	d, g := openGated(t, Options{MaxOpenConns: 2})
	ctx := context.Background()
	inTx, leave := make(chan struct{}), make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- d.Tx(ctx, func(ctx context.Context) error {
			close(inTx)
			<-leave
			return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 1").Error
		})
	}()
	<-inTx
	waits := g.waits.Load()
	go func() {
		done <- d.Tx(ctx, func(ctx context.Context) error {
			return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 10").Error
		})
	}()
	for g.waits.Load() == waits { // until the second writer queues
		time.Sleep(time.Millisecond)
	}
	for range 3 { // more reads than free connections: each must return it
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var n int
		err := d.Gorm.WithContext(rctx).Raw("SELECT n FROM counter").Scan(&n).Error
		cancel()
		if err != nil || n != 0 {
			t.Fatalf("read while a writer waits: n = %d, err = %v", n, err)
		}
	}
	close(leave)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	requireFree(t, g)
}

func TestGateWaitEndsWithContextOrTimeout(t *testing.T) {
	g := newWriteGate()
	g.maxWait = 20 * time.Millisecond
	if held, err := g.acquire(context.Background()); !held || err != nil {
		t.Fatalf("free gate: held = %v, err = %v", held, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if held, err := g.acquire(ctx); held || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: held = %v, err = %v", held, err)
	}
	// A leaked gate costs maxWait, then writers go ahead on SQLite's locking.
	if held, err := g.acquire(context.Background()); held || err != nil {
		t.Fatalf("timed-out wait: held = %v, err = %v", held, err)
	}
	g.release()
	requireFree(t, g)
}

func TestReadOnly(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                     true,
		"  select * from x":            true,
		"PRAGMA wal_checkpoint(FULL)":  true,
		"(SELECT 1)":                   true,
		"UPDATE x SET y = 1":           false,
		"INSERT INTO x VALUES (1)":     false,
		"DELETE FROM x":                false,
		"WITH a AS (SELECT 1) DELETE ": false,
		"":                             false,
	} {
		if got := readOnly(q); got != want {
			t.Errorf("readOnly(%q) = %v", q, got)
		}
	}
}
