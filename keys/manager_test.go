package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"os"
	"reflect"
	"sync"
	"testing"

	"idp/db"
	"idp/db/dbtest"
)

func TestBootstrapCreatesActiveAndNextAndIsIdempotent(t *testing.T) {
	e := newEnv(t)
	m := e.bootstrapped()
	first := mustList(t, m)
	if len(first) != 4 {
		t.Fatalf("got %d keys, want 4: %+v", len(first), first)
	}
	for _, alg := range Algs {
		if c := countStates(first, alg); c[StateActive] != 1 || c[StateNext] != 1 {
			t.Fatalf("%s: states %v, want one active and one next", alg, c)
		}
		st := byState(first)
		act, next := st[[2]string{alg, StateActive}], st[[2]string{alg, StateNext}]
		if !act.HasPrivate || !next.HasPrivate || act.ActivatedAt == nil || next.ActivatedAt != nil {
			t.Fatalf("%s: active %+v next %+v", alg, act, next)
		}
		if act.CreatedAt.Location() != act.CreatedAt.UTC().Location() || !act.CreatedAt.Equal(e.clock.Now()) {
			t.Fatalf("%s: created_at %v, want %v UTC", alg, act.CreatedAt, e.clock.Now())
		}
	}
	if err := m.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	// Again in the same process and in a "new process": nothing changes.
	e.clock.Advance(MaxCacheTTL)
	if err := m.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.manager().Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := mustList(t, m); !reflect.DeepEqual(first, again) {
		t.Fatalf("second Bootstrap changed keys:\n%+v\n%+v", first, again)
	}
}

func TestConcurrentBootstrap(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = e.manager().Bootstrap(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("bootstrapper %d: %v", i, err)
		}
	}
	ks := mustList(t, e.manager())
	for _, alg := range Algs {
		if c := countStates(ks, alg); c[StateActive] != 1 || c[StateNext] != 1 || len(c) != 2 {
			t.Fatalf("%s: states %v, want exactly one active and one next", alg, c)
		}
	}
}

func TestReadyBeforeBootstrap(t *testing.T) {
	e := newEnv(t)
	if err := e.manager().Ready(context.Background()); err == nil {
		t.Fatal("Ready on an empty database returned nil")
	}
}

// TestPrivateKeysEncryptedAtRest looks for every private key's secret
// scalar, raw and as its JWK base64url text, in the stored rows and, on
// SQLite, in the database and WAL files themselves.
func TestPrivateKeysEncryptedAtRest(t *testing.T) {
	dsn := dbtest.DSN(t)
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, d)
	m := e.bootstrapped()

	var secrets [][]byte
	for _, en := range m.snap.Load().byKID {
		if en.private == nil {
			t.Fatalf("key %s (%s) has no private part loaded", en.KID, en.State)
		}
		var dBytes []byte
		switch k := en.private.Key.(type) {
		case *rsa.PrivateKey:
			dBytes = k.D.Bytes()
		case *ecdsa.PrivateKey:
			if dBytes, err = k.Bytes(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected key type %T", k)
		}
		secrets = append(secrets, dBytes, []byte(base64.RawURLEncoding.EncodeToString(dBytes)))
	}
	if len(secrets) != 8 {
		t.Fatalf("found %d secrets, want 8 (4 keys)", len(secrets)/2)
	}

	var rows []row
	if err := d.Gorm.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var stored []byte
	for _, r := range rows {
		stored = append(stored, r.PrivateEnc...)
		stored = append(stored, r.PublicJWK...)
		if bytes.Contains(r.PrivateEnc, []byte(`"d"`)) || bytes.Contains([]byte(r.PublicJWK), []byte(`"d"`)) {
			t.Fatalf("row %s holds a JWK private member in clear", r.KID)
		}
	}
	blobs := map[string][]byte{"rows": stored}
	if d.Dialect == db.SQLite {
		if err := d.Gorm.Exec("PRAGMA wal_checkpoint(PASSIVE)").Error; err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{dsn, dsn + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			blobs[p] = b
		}
		// Positive control: the scan does see the stored public keys.
		if !bytes.Contains(append(blobs[dsn], blobs[dsn+"-wal"]...), []byte(rows[0].KID)) {
			t.Fatal("scan found not even a kid in the database files: it scans the wrong thing")
		}
	}
	for name, blob := range blobs {
		for _, s := range secrets {
			if bytes.Contains(blob, s) {
				t.Fatalf("%s contains private key material in clear", name)
			}
		}
	}
}

func TestWrongMasterKeyFailsBootstrap(t *testing.T) {
	e := newEnv(t)
	before := mustList(t, e.bootstrapped())
	e.mk = randomMaster(t)
	err := e.manager().Bootstrap(context.Background())
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Bootstrap with another master key: %v, want ErrWrongMasterKey", err)
	}
	if after := mustList(t, e.manager()); !reflect.DeepEqual(before, after) {
		t.Fatal("Bootstrap with a wrong master key wrote keys")
	}
}

func TestSwappedCiphertextFailsToOpen(t *testing.T) {
	e := newEnv(t)
	st := byState(mustList(t, e.bootstrapped()))
	a, b := st[[2]string{RS256, StateActive}].KID, st[[2]string{RS256, StateNext}].KID
	var encA, encB []byte
	if err := e.db.Gorm.Raw("SELECT private_enc FROM signing_keys WHERE kid = ?", a).Row().Scan(&encA); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Gorm.Raw("SELECT private_enc FROM signing_keys WHERE kid = ?", b).Row().Scan(&encB); err != nil {
		t.Fatal(err)
	}
	for kid, enc := range map[string][]byte{a: encB, b: encA} {
		if err := e.db.Gorm.Exec("UPDATE signing_keys SET private_enc = ? WHERE kid = ?", enc, kid).Error; err != nil {
			t.Fatal(err)
		}
	}
	err := e.manager().Bootstrap(context.Background())
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Bootstrap after swapping ciphertexts: %v, want ErrWrongMasterKey", err)
	}
}
