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

// With a pool of several connections every write runs on the one writer
// connection, whatever the readers hold: a TEMP table (private to its
// connection) made in one write transaction is there in the next.
func TestWritesKeepOneConnection(t *testing.T) {
	d, g := openGated(t, Options{MaxOpenConns: 4})
	ctx := context.Background()
	if err := d.Tx(ctx, func(ctx context.Context) error {
		return Conn(ctx, d.Gorm).Exec("CREATE TEMP TABLE writer_mark (x INTEGER)").Error
	}); err != nil {
		t.Fatal(err)
	}
	first := d.pool.w
	if first == nil {
		t.Error("no writer connection after a write")
	}
	// Readers take every other connection between the writes.
	var held []*sql.Conn
	for range 3 {
		c, err := d.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	hasMark := func(ctx context.Context) error {
		var n int
		if err := Conn(ctx, d.Gorm).Raw("SELECT count(*) FROM temp.sqlite_master WHERE name = 'writer_mark'").Scan(&n).Error; err != nil {
			return err
		}
		if n != 1 {
			return errors.New("the write ran on another connection")
		}
		return nil
	}
	for i := range 3 {
		if err := d.Tx(ctx, func(ctx context.Context) error {
			if err := hasMark(ctx); err != nil {
				return err
			}
			return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 1").Error
		}); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		// An autocommit write outside a transaction takes it too.
		if err := d.Gorm.Exec("INSERT INTO writer_mark (x) VALUES (1)").Error; err != nil {
			t.Fatalf("autocommit write %d: %v", i, err)
		}
	}
	for _, c := range held {
		_ = c.Close()
	}
	if d.pool.w != first {
		t.Error("the writer connection changed without an error")
	}
	if s := d.sql.Stats(); s.InUse != 1 {
		t.Errorf("in use while idle: %d, want 1 (the writer)", s.InUse)
	}
	requireFree(t, g)
}

// A writer connection that went away is replaced on the next write; one
// whose transaction was cancelled stays usable or is replaced.
func TestWriterConnectionReplaced(t *testing.T) {
	d, g := openGated(t, Options{})
	ctx := context.Background()
	inc := func(ctx context.Context) error { return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 1").Error }
	if err := d.Tx(ctx, inc); err != nil {
		t.Fatal(err)
	}
	old := d.pool.w
	_ = old.Close() // gone underneath, as after a broken connection
	if err := d.Tx(ctx, inc); err != nil {
		t.Fatalf("transaction after the writer connection closed: %v", err)
	}
	if d.pool.w == nil || d.pool.w == old {
		t.Fatal("writer connection not replaced")
	}
	_ = d.pool.w.Close()
	if err := d.Gorm.Exec("UPDATE counter SET n = n + 1").Error; err != nil {
		t.Fatalf("autocommit write after the writer connection closed: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	err := d.Tx(cctx, func(ctx context.Context) error {
		if err := inc(ctx); err != nil {
			return err
		}
		cancel()
		time.Sleep(10 * time.Millisecond) // let database/sql see the cancellation
		return inc(ctx)
	})
	if err == nil {
		t.Fatal("cancelled transaction committed")
	}
	if err := d.Tx(ctx, inc); err != nil {
		t.Fatalf("transaction after a cancelled one: %v", err)
	}
	var n int
	d.Gorm.Raw("SELECT n FROM counter").Scan(&n)
	if n != 4 {
		t.Fatalf("n = %d, want 4 (the cancelled transaction undone)", n)
	}
	requireFree(t, g)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if s := d.sql.Stats(); s.OpenConnections != 0 {
		t.Errorf("%d connections open after Close", s.OpenConnections)
	}
}

// A one-connection pool keeps no writer connection: readers would have
// none left.
func TestOneConnectionPoolKeepsNoWriter(t *testing.T) {
	d, g := openGated(t, Options{MaxOpenConns: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		if err := d.Tx(ctx, func(ctx context.Context) error {
			return Conn(ctx, d.Gorm).Exec("UPDATE counter SET n = n + 1").Error
		}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.Gorm.WithContext(ctx).Raw("SELECT n FROM counter").Scan(&n).Error; err != nil || n != i+1 {
			t.Fatalf("read after write %d: n = %d, err = %v", i, n, err)
		}
	}
	if d.pool.w != nil {
		t.Error("a one-connection pool kept a writer connection")
	}
	requireFree(t, g)
}
