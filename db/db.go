package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names as used by migrations.FS.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Options tune the connection pool. Zero values take the defaults.
type Options struct {
	// MaxOpenConns caps open connections (default 16 for PostgreSQL, 8 for SQLite).
	MaxOpenConns int
	// MaxIdleConns caps idle connections (default MaxOpenConns).
	MaxIdleConns int
	// StatementTimeout aborts PostgreSQL statements running longer (0: none).
	StatementTimeout time.Duration
}

// DB is an open database: the GORM handle plus its dialect.
type DB struct {
	Gorm    *gorm.DB
	Dialect string
	sql     *sql.DB
	path    string     // SQLite file path; empty on PostgreSQL
	gate    *writeGate // SQLite only
	pool    *gatedPool // SQLite only
}

// IsPostgres reports whether a --database value names PostgreSQL rather than
// a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// OnSQLite reports whether g, a store's handle, talks to SQLite: the
// stores that need a statement of their own for one dialect ask this.
func OnSQLite(g *gorm.DB) bool { return g.Dialector.Name() == SQLite }

// Open connects to dsn: a postgres:// URL or a SQLite file path. It checks
// the connection, so an unreachable database is an error here and not at the
// first request.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg := &gorm.Config{
		// Never log SQL: bound values include hashes and sealed keys.
		Logger:         logger.Discard,
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	var (
		dialector gorm.Dialector
		dialect   string
		raw       *sql.DB // SQLite only: opened here, wrapped in the gate
		gate      *writeGate
		pool      *gatedPool
	)
	if IsPostgres(dsn) {
		pgDSN, err := postgresDSN(dsn, opts.StatementTimeout)
		if err != nil {
			return nil, err
		}
		dialector, dialect = postgres.Open(pgDSN), Postgres
		if opts.MaxOpenConns == 0 {
			opts.MaxOpenConns = 16
		}
	} else {
		if dsn == "" || strings.ContainsAny(dsn, "?#") {
			return nil, fmt.Errorf("open database: %q is not a usable SQLite file path", dsn)
		}
		// WAL lets readers run beside the writer; _txlock=immediate takes the
		// write lock at BEGIN so two transactions never deadlock upgrading a
		// read lock; busy_timeout makes writers queue instead of failing with
		// "database is locked". synchronous=NORMAL in WAL mode loses no
		// committed transaction when the process crashes (only an operating
		// system crash or power loss can drop the last few), and it saves
		// an fsync per commit.
		//
		// _stmt_cache_size keeps each connection's prepared statements:
		// preparing a statement cost about as much as running it (a sixth
		// of a refresh's CPU time).
		//
		// busy_timeout stays the correctness guarantee against other
		// processes on the file; inside this process writers queue at the
		// write gate (gate.go) instead of polling in the busy handler.
		var err error
		raw, err = sql.Open(sqlite.DriverName, "file:"+dsn+
			"?_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=on&_txlock=immediate&_synchronous=NORMAL&_stmt_cache_size=64")
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		gate = gateFor(dsn)
		pool = &gatedPool{db: raw, gate: gate}
		dialector = sqlite.New(sqlite.Config{Conn: pool})
		dialect = SQLite
		if opts.MaxOpenConns == 0 {
			opts.MaxOpenConns = 8
		}
	}
	if opts.MaxIdleConns == 0 {
		opts.MaxIdleConns = opts.MaxOpenConns
	}
	if pool != nil {
		// A kept writer connection would leave a one-connection pool
		// nothing to read with.
		pool.pin = opts.MaxOpenConns >= 2
	}
	if dialect == SQLite {
		// The first connection to a fresh file switches it to WAL, which
		// needs an exclusive lock that SQLite's busy handler does not wait
		// for: processes opening a new file together got "database is
		// locked". They take turns under the migration lock file instead.
		lk := fileLocker{path: dsn + ".migrate-lock"}
		lockCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := lk.SessionLock(lockCtx, nil)
		cancel()
		if err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("open database: %w", err)
		}
		defer func() { _ = lk.SessionUnlock(ctx, nil) }()
	}
	g, err := gorm.Open(dialector, cfg)
	if err != nil {
		if raw != nil {
			_ = raw.Close()
		}
		return nil, fmt.Errorf("open database: %w", err)
	}
	system := "sqlite"
	if dialect != SQLite {
		system = "postgresql"
	}
	if err := traceCallbacks(g, system); err != nil {
		return nil, fmt.Errorf("open database: trace callbacks: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
	sqlDB.SetMaxIdleConns(opts.MaxIdleConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	d := &DB{Gorm: g, Dialect: dialect, sql: sqlDB, gate: gate, pool: pool}
	if dialect == SQLite {
		d.path = dsn
	}
	return d, nil
}

// postgresDSN adds the statement timeout to a postgres:// URL.
func postgresDSN(dsn string, timeout time.Duration) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// Do not echo the URL: it may carry a password.
		return "", errors.New("open database: malformed postgres:// URL")
	}
	if timeout > 0 {
		q := u.Query()
		q.Set("statement_timeout", fmt.Sprint(timeout.Milliseconds()))
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// Ping checks that the database answers (used by /readyz).
func (d *DB) Ping(ctx context.Context) error { return d.sql.PingContext(ctx) }

// WriteGateWaits counts the SQLite writers of this process that had to
// queue behind another one (always 0 on PostgreSQL), for /metrics.
func (d *DB) WriteGateWaits() int64 {
	if d.gate == nil {
		return 0
	}
	return d.gate.waits.Load()
}

// SQLDB returns the underlying pool, for its statistics.
func (d *DB) SQLDB() *sql.DB { return d.sql }

// Close closes the connection pool (the SQLite writer connection first).
func (d *DB) Close() error {
	if d.pool != nil {
		d.pool.closeWriter()
	}
	return d.sql.Close()
}

// Tx runs fn in one transaction; see the package function Tx.
func (d *DB) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return Tx(ctx, d.Gorm, fn)
}
