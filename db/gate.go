package db

import (
	"context"
	"database/sql"
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
type gatedPool struct {
	db   *sql.DB
	gate *writeGate
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
	if held {
		defer p.gate.release()
	}
	return p.db.ExecContext(ctx, query, args...)
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
	tx, err := p.db.BeginTx(ctx, opts)
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
// PRAGMA (settings; the WAL checkpoint keys runs after its own commit waits
// for writers in SQLite's busy handler, as it always did).
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return hasPrefixFold(q, "SELECT") || hasPrefixFold(q, "PRAGMA")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
