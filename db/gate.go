package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// gateMaxWait bounds how long a writer waits for the gate. Past it the
// writer goes ahead without the gate and SQLite's own locking (BEGIN
// IMMEDIATE plus busy_timeout) decides, so a leaked gate can slow writers
// down but never deadlock them.
const gateMaxWait = 10 * time.Second

// writeGate lets one SQLite writer of this process at a time through, in
// arrival order. SQLite allows one writer per file anyway; without the gate
// every waiting BEGIN IMMEDIATE polls in SQLite's busy handler, sleeping up
// to 100 ms between tries while it holds a pool connection that readers
// then queue for. Waiting here costs no connection and wakes the next
// writer the moment the previous one commits.
type writeGate struct {
	ch      chan struct{} // one slot; a blocked send queues FIFO
	maxWait time.Duration
	waits   atomic.Int64 // acquisitions that had to wait
}

func newWriteGate() *writeGate {
	return &writeGate{ch: make(chan struct{}, 1), maxWait: gateMaxWait}
}

// gates holds one gate per SQLite file, so several handles on the same file
// in one process (test clusters) queue together too.
var gates sync.Map // absolute path -> *writeGate

func gateFor(path string) *writeGate {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	g, _ := gates.LoadOrStore(path, newWriteGate())
	return g.(*writeGate)
}

// acquire waits for the gate. held is false if it gave up after maxWait;
// the caller then proceeds without it and must not release.
func (g *writeGate) acquire(ctx context.Context) (held bool, err error) {
	select {
	case g.ch <- struct{}{}:
		return true, nil
	default:
	}
	g.waits.Add(1)
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.ch <- struct{}{}:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		slog.Warn("sqlite write gate: waited too long, proceeding on SQLite's locking alone", "wait", g.maxWait)
		return false, nil
	}
}

func (g *writeGate) release() { <-g.ch }

// gatedPool is the gorm.ConnPool of a SQLite database: transactions and
// autocommit writing Execs pass the write gate first; reads never do.
//
// Autocommit writes that GORM builds (Create, Updates, Delete) run in its
// default transaction, so they come through BeginTx even when they use
// INSERT … RETURNING via QueryContext. A hand-written writing query sent
// through QueryContext outside a transaction is not gated: its write
// happens when the rows are read, after QueryContext has returned, and it
// falls back to SQLite's busy handler as before.
//
// With a pool of two or more connections, the gate's holder writes on one
// connection kept for writing (see writerConn).
type gatedPool struct {
	db   *sql.DB
	gate *writeGate
	pin  bool      // keep a writer connection (off with a one-connection pool)
	w    *sql.Conn // the writer connection; only the gate's holder touches it
}

// writerConn returns the connection the gate's holder writes on, opening it
// on first use. SQLite empties a connection's page cache whenever another
// connection has written since its last transaction, so writers taking
// turns on the pool's connections each began by reading back from the
// file the pages the previous writer had just changed, while every other
// writer queued behind them. One writer connection keeps them cached. nil
// (and no error) means: use the pool.
func (p *gatedPool) writerConn(ctx context.Context) (*sql.Conn, error) {
	if !p.pin {
		return nil, nil
	}
	if p.w == nil {
		c, err := p.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		p.w = c
	}
	return p.w, nil
}

// writerFailed drops the writer connection after an error that means it
// is gone (the next holder opens another), and reports whether it did.
func (p *gatedPool) writerFailed(err error) bool {
	if p.w == nil || !(errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
		return false
	}
	_ = p.w.Close()
	p.w = nil
	return true
}

// closeWriter returns the writer connection to the pool before the pool
// closes. It waits for the gate, so no transaction is using it.
func (p *gatedPool) closeWriter() {
	held, _ := p.gate.acquire(context.Background())
	if !held {
		return // a writer still has it; the pool closes it when it ends
	}
	defer p.gate.release()
	if p.w != nil {
		_ = p.w.Close()
		p.w = nil
	}
}

var (
	_ gorm.ConnPool         = (*gatedPool)(nil)
	_ gorm.ConnPoolBeginner = (*gatedPool)(nil)
	_ gorm.GetDBConnector   = (*gatedPool)(nil)
	_ gorm.Tx               = (*gatedTx)(nil)
)

func (p *gatedPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *gatedPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if readOnly(query) {
		return p.db.ExecContext(ctx, query, args...)
	}
	held, err := p.gate.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if !held {
		return p.db.ExecContext(ctx, query, args...)
	}
	defer p.gate.release()
	return onWriter(ctx, p,
		func(w *sql.Conn) (sql.Result, error) { return w.ExecContext(ctx, query, args...) },
		func() (sql.Result, error) { return p.db.ExecContext(ctx, query, args...) })
}

func (p *gatedPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, query, args...)
}

func (p *gatedPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, query, args...)
}

// BeginTx takes the gate, then a connection, and BEGINs (IMMEDIATE, from the
// DSN). The gate is released when the transaction ends, or here if it
// could not start.
func (p *gatedPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	held, err := p.gate.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := p.begin(ctx, held, opts)
	if err != nil {
		if held {
			p.gate.release()
		}
		return nil, err
	}
	t := &gatedTx{Tx: tx, db: p.db, gate: p.gate}
	t.held.Store(held)
	return t, nil
}

// begin starts a transaction on the writer connection when the gate is
// held, else on any pooled connection.
func (p *gatedPool) begin(ctx context.Context, held bool, opts *sql.TxOptions) (*sql.Tx, error) {
	onPool := func() (*sql.Tx, error) { return p.db.BeginTx(ctx, opts) }
	if !held {
		return onPool()
	}
	return onWriter(ctx, p, func(w *sql.Conn) (*sql.Tx, error) { return w.BeginTx(ctx, opts) }, onPool)
}

// onWriter runs onConn on the writer connection, once more on a fresh one
// if that connection turned out to be gone, or onPool when no writer
// connection is kept. The caller holds the gate.
func onWriter[T any](ctx context.Context, p *gatedPool, onConn func(*sql.Conn) (T, error), onPool func() (T, error)) (T, error) {
	var zero T
	for range 2 {
		w, err := p.writerConn(ctx)
		if err != nil {
			return zero, err
		}
		if w == nil {
			return onPool()
		}
		v, err := onConn(w)
		if err == nil || !p.writerFailed(err) {
			return v, err
		}
	}
	return zero, sql.ErrConnDone
}

// GetDBConn lets gorm.DB.DB() reach the pool.
func (p *gatedPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

// gatedTx is a transaction holding the gate until Commit or Rollback,
// whichever comes first (GORM rolls back after a failed commit).
type gatedTx struct {
	*sql.Tx
	db   *sql.DB
	gate *writeGate
	held atomic.Bool
}

func (t *gatedTx) Commit() error {
	defer t.done()
	return t.Tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.done()
	return t.Tx.Rollback()
}

func (t *gatedTx) done() {
	if t.held.Swap(false) {
		t.gate.release()
	}
}

// GetDBConn lets gorm.DB.DB() reach the pool from inside a transaction.
func (t *gatedTx) GetDBConn() (*sql.DB, error) { return t.db, nil }

// readOnly reports whether an Exec statement skips the gate: SELECT, and
// PRAGMA (settings, and the WAL checkpoint the key store runs after saving
// a key: if it must wait for a writer, it waits in SQLite's busy handler,
// as it always did).
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return hasPrefixFold(q, "SELECT") || hasPrefixFold(q, "PRAGMA")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
