package dbtest

import (
	"context"
	"testing"

	"idp/db"
)

// TestPoolResetMatchesFreshSchema: a freshly migrated schema holds no rows
// but the seeds the pool puts back after a truncation (a migration that
// inserts others must add them to seeds), and a pooled schema handed to
// the next test is as empty as a fresh one.
func TestPoolResetMatchesFreshSchema(t *testing.T) {
	RequirePostgres(t)
	d, err := openFresh(t)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	if err := d.Gorm.Raw("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'").
		Scan(&tables).Error; err != nil || len(tables) == 0 {
		t.Fatalf("tables %v %v", tables, err)
	}
	for _, tb := range tables {
		var n int64
		if err := d.Gorm.Table(tb).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if want := map[string]int64{"key_schedule": 1}[tb]; n != want {
			t.Errorf("a fresh schema has %d rows in %s, want %d: add the migration's rows to dbtest's seeds", n, tb, want)
		}
	}

	var schema string
	t.Run("dirty", func(t *testing.T) {
		d := Open(t)
		_ = d.Gorm.Raw("SELECT current_schema()").Scan(&schema).Error
		if err := d.Gorm.Exec("UPDATE key_schedule SET epoch = 7").Error; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("next", func(t *testing.T) {
		d := Open(t)
		var got string
		_ = d.Gorm.Raw("SELECT current_schema()").Scan(&got).Error
		if got != schema {
			t.Skipf("the pool handed out %s, not %s (another test took it)", got, schema)
		}
		var epoch int64
		if err := d.Gorm.Raw("SELECT epoch FROM key_schedule WHERE id = 1").Scan(&epoch).Error; err != nil || epoch != 0 {
			t.Fatalf("a reused schema has epoch %d (%v), want the fresh 0", epoch, err)
		}
	})
}

// openFresh is Open without the pool.
func openFresh(t *testing.T) (*db.DB, error) {
	d, err := db.Open(context.Background(), DSN(t), db.Options{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, d.Migrate(context.Background())
}
