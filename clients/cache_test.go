package clients

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"idp/db"
	"idp/db/dbtest"
)

// twoHandles opens the same database twice, as two processes would (idp
// serve and the idp CLI, or two replicas): separate connection pools.
func twoHandles(t *testing.T) (serve, cli *db.DB) {
	t.Helper()
	dsn := dbtest.DSN(t)
	ctx := context.Background()
	open := func() *db.DB {
		d, err := db.Open(ctx, dsn, db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		return d
	}
	serve = open()
	if err := serve.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return serve, open()
}

func cacheClient(id string) *Client {
	return &Client{ID: id, Name: "Cached", SecretHash: []byte("hash-1"), RedirectURIs: []string{"https://a.example/cb"},
		GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"api"}, SigningAlg: "RS256"}
}

// TestCacheSeesEveryChangeAtOnce: a client kept in memory is answered from
// memory only while nothing changed; every kind of change, by another
// process's store or by plain SQL that bypasses idp, is seen by the very
// next lookup.
func TestCacheSeesEveryChangeAtOnce(t *testing.T) {
	serveDB, cliDB := twoHandles(t)
	serve, cli := NewStore(serveDB.Gorm), NewStore(cliDB.Gorm)
	ctx := context.Background()

	if _, err := serve.ByID(ctx, "app"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("before create: %v, want ErrNotFound", err)
	}
	if err := cli.Create(ctx, cacheClient("app")); err != nil {
		t.Fatal(err)
	}
	lookup := func(step string) *Client {
		t.Helper()
		c, err := serve.ByID(ctx, "app")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return c
	}
	if c := lookup("created elsewhere"); string(c.SecretHash) != "hash-1" {
		t.Fatalf("created elsewhere: secret hash %q", c.SecretHash)
	}
	hits0, _ := serve.cacheStats()
	lookup("again")
	if hits, _ := serve.cacheStats(); hits != hits0+1 {
		t.Fatalf("an unchanged client was read from its row again (hits %d → %d)", hits0, hits)
	}

	if err := cli.setSecret(ctx, "app", []byte("hash-2"), nil, cacheClient("x").CreatedAt); err != nil {
		t.Fatal(err)
	}
	if c := lookup("secret rotated elsewhere"); string(c.SecretHash) != "hash-2" {
		t.Fatalf("secret rotated elsewhere: still %q", c.SecretHash)
	}

	updated := cacheClient("app")
	updated.SecretHash, updated.Scopes = []byte("hash-2"), []string{"api", "admin"}
	if err := cli.Update(ctx, updated); err != nil {
		t.Fatal(err)
	}
	if c := lookup("updated elsewhere"); len(c.Scopes) != 2 {
		t.Fatalf("updated elsewhere: scopes %v", c.Scopes)
	}

	if err := cliDB.Gorm.Exec(`UPDATE clients SET name = 'By hand' WHERE id = 'app'`).Error; err != nil {
		t.Fatal(err)
	}
	if c := lookup("plain SQL"); c.Name != "By hand" {
		t.Fatalf("plain SQL: name %q", c.Name)
	}

	// A change to another client also moves the counter: the cache starts over.
	if err := cli.Create(ctx, cacheClient("other")); err != nil {
		t.Fatal(err)
	}
	_, misses0 := serve.cacheStats()
	lookup("another client created")
	if _, misses := serve.cacheStats(); misses != misses0+1 {
		t.Fatal("a lookup after another client's change was answered from memory")
	}

	if err := cli.Delete(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.ByID(ctx, "app"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("deleted elsewhere: %v, want ErrNotFound", err)
	}
	if err := cliDB.Gorm.Exec(`DELETE FROM clients`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := serve.ByID(ctx, "other"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("deleted by plain SQL: %v, want ErrNotFound", err)
	}
}

// TestCacheHandsOutCopies: what one caller does to the client it got
// never reaches the next caller.
func TestCacheHandsOutCopies(t *testing.T) {
	s := NewStore(dbtest.Open(t).Gorm)
	ctx := context.Background()
	if err := s.Create(ctx, cacheClient("app")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first from the row, the second from memory
		c, err := s.ByID(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		c.RedirectURIs[0], c.SecretHash[0], c.Name = "https://evil.example/cb", 'X', "changed"
		c.Scopes = append(c.Scopes[:0], "admin")
	}
	c, err := s.ByID(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c.RedirectURIs[0] != "https://a.example/cb" || string(c.SecretHash) != "hash-1" || c.Name != "Cached" || c.Scopes[0] != "api" {
		t.Fatalf("a caller's changes reached the cache: %+v", c)
	}
}

// TestCacheNotUsedInTransactions: inside a transaction a lookup reads the
// row, which that transaction may have changed; what it rolls back never
// reaches memory.
func TestCacheNotUsedInTransactions(t *testing.T) {
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	ctx := context.Background()
	if err := s.Create(ctx, cacheClient("app")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ByID(ctx, "app"); err != nil { // now in memory
		t.Fatal(err)
	}
	errRollback := errors.New("roll back")
	err := db.Tx(ctx, d.Gorm, func(ctx context.Context) error {
		c := cacheClient("app")
		c.Name = "uncommitted"
		if err := s.Update(ctx, c); err != nil {
			return err
		}
		got, err := s.ByID(ctx, "app")
		if err != nil {
			return err
		}
		if got.Name != "uncommitted" {
			return fmt.Errorf("inside the transaction: name %q, want its own change", got.Name)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	c, err := s.ByID(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Cached" {
		t.Fatalf("after the rollback: name %q", c.Name)
	}
}

// TestCacheConcurrentChanges: lookups racing with updates from another
// handle never see a value older than the last update committed before
// they started.
func TestCacheConcurrentChanges(t *testing.T) {
	serveDB, cliDB := twoHandles(t)
	serve, cli := NewStore(serveDB.Gorm), NewStore(cliDB.Gorm)
	ctx := context.Background()
	if err := cli.Create(ctx, cacheClient("app")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := serve.ByID(ctx, "app"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 30 {
		c := cacheClient("app")
		c.Name = fmt.Sprintf("v%d", i)
		if err := cli.Update(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := serve.ByID(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != c.Name {
			t.Fatalf("after update %d committed: name %q", i, got.Name)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
