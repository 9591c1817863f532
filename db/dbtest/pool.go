package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"idp/db"
)

// pool keeps this test process's migrated PostgreSQL schemas between
// tests. A test that ends gives its schema back emptied (every table
// truncated, the migrations' own rows put back); the next test takes it
// instead of creating and migrating a new one. A schema whose tables or
// migration version changed during the test (a test migrating down, say)
// is dropped instead.
var pool schemaPool

type schemaPool struct {
	mu     sync.Mutex
	admin  *db.DB
	free   []string
	tables []string // of a migrated schema, but goose_db_version
	newest int64    // the migrated version
}

// seeds are the rows the migrations themselves insert, put back after a
// truncation. TestPoolResetMatchesFreshSchema fails when a migration adds
// one that is not here.
var seeds = []string{"INSERT INTO key_schedule (id, epoch) VALUES (1, 0)"}

// take returns a migrated database over a pooled or new schema for t, nil
// when the pool cannot serve (Open then does it the slow way).
func (p *schemaPool) take(t testing.TB, base string) *db.DB {
	t.Helper()
	ctx := context.Background()
	p.mu.Lock()
	if p.admin == nil {
		admin, err := db.Open(ctx, base, db.Options{MaxOpenConns: 2})
		if err != nil {
			p.mu.Unlock()
			t.Fatalf("dbtest: %s is set but PostgreSQL is unreachable: %v", EnvPostgres, err)
		}
		p.admin = admin
		p.dropOrphans()
	}
	var schema string
	if n := len(p.free); n > 0 {
		schema, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	fresh := schema == ""
	if fresh {
		var b [6]byte
		_, _ = rand.Read(b[:])
		schema = fmt.Sprintf("p%d_%s", os.Getpid(), hex.EncodeToString(b[:]))
		if err := p.admin.Gorm.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			t.Fatalf("dbtest: create schema: %v", err)
		}
	}
	t.Cleanup(func() { p.give(schema) }) // runs after the Close below
	d, err := db.Open(ctx, withSchema(t, base, schema), db.Options{})
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if fresh {
		if err := d.Migrate(ctx); err != nil {
			t.Fatalf("dbtest: migrate: %v", err)
		}
		if err := p.learn(schema); err != nil {
			t.Fatalf("dbtest: %v", err)
		}
	}
	return d
}

func withSchema(t testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// dropOrphans drops the pooled schemas of test processes that have ended
// (their pid is gone): a pool outlives its tests, so nobody else does.
func (p *schemaPool) dropOrphans() {
	var names []string
	if err := p.admin.Gorm.Raw("SELECT nspname FROM pg_namespace WHERE nspname ~ '^p[0-9]+_[0-9a-f]+$'").Scan(&names).Error; err != nil {
		return
	}
	for _, n := range names {
		pid, err := strconv.Atoi(strings.TrimPrefix(n[:strings.IndexByte(n, '_')], "p"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // that test process is still running
		}
		_ = p.admin.Gorm.Exec("DROP SCHEMA " + n + " CASCADE").Error
	}
}

// shape is a schema's tables (but goose_db_version) and migrated version.
func (p *schemaPool) shape(schema string) (tables []string, version int64, err error) {
	err = p.admin.Gorm.Raw("SELECT tablename FROM pg_tables WHERE schemaname = ? AND tablename <> 'goose_db_version' ORDER BY tablename",
		schema).Scan(&tables).Error
	if err == nil {
		err = p.admin.Gorm.Raw("SELECT COALESCE(MAX(version_id), 0) FROM " + schema + ".goose_db_version").Scan(&version).Error
	}
	return tables, version, err
}

// learn records the shape of the first migrated schema.
func (p *schemaPool) learn(schema string) error {
	tables, version, err := p.shape(schema)
	if err != nil {
		return fmt.Errorf("read the migrated schema: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tables == nil {
		p.tables, p.newest = tables, version
	}
	return nil
}

// give empties schema and frees it for the next test, or drops it when
// it no longer has the migrated shape.
func (p *schemaPool) give(schema string) {
	if err := p.reset(schema); err != nil {
		_ = p.admin.Gorm.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		return
	}
	p.mu.Lock()
	p.free = append(p.free, schema)
	p.mu.Unlock()
}

func (p *schemaPool) reset(schema string) error {
	tables, version, err := p.shape(schema)
	if err != nil {
		return err
	}
	p.mu.Lock()
	want, newest := p.tables, p.newest
	p.mu.Unlock()
	if version != newest || strings.Join(tables, ",") != strings.Join(want, ",") {
		return fmt.Errorf("schema %s changed shape", schema)
	}
	qualified := make([]string, len(tables))
	for i, tb := range tables {
		qualified[i] = schema + "." + tb
	}
	stmts := []string{"SET LOCAL search_path TO " + schema, "TRUNCATE " + strings.Join(qualified, ", ") + " RESTART IDENTITY CASCADE"}
	stmts = append(stmts, seeds...)
	return p.admin.Gorm.Transaction(func(tx *gorm.DB) error {
		for _, s := range stmts {
			if err := tx.Exec(s).Error; err != nil {
				return err
			}
		}
		return nil
	})
}
