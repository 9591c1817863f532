package clients

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"idp/db"
	"idp/db/dbtest"
)

func fullClient(id string) *Client {
	at := time.Date(2024, 12, 31, 23, 59, 59, 999999000, time.UTC)
	return &Client{
		ID: id, Name: "Full ✓ client", SecretHash: []byte{0, 1, 2, 0xff},
		RedirectURIs:           []string{"https://a.example/cb", "com.example.app:/cb"},
		PostLogoutRedirectURIs: []string{"https://a.example/bye"},
		GrantTypes:             []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		Scopes:                 []string{"openid", "idp:admin"},
		SigningAlg:             "ES256", Trusted: true,
		CreatedAt: at, UpdatedAt: at.Add(time.Hour),
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := NewStore(dbtest.Open(t).Gorm)
	want := []*Client{
		fullClient("full"),
		{ID: "bare", Public: true, RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{},
			GrantTypes: []string{}, Scopes: []string{}, SigningAlg: "RS256",
			CreatedAt: time.Unix(1700000000, 0).UTC(), UpdatedAt: time.Unix(1700000000, 0).UTC()},
	}
	for _, c := range want {
		if err := s.Create(t.Context(), c); err != nil {
			t.Fatalf("Create %q: %v", c.ID, err)
		}
		got, err := s.ByID(t.Context(), c.ID)
		if err != nil {
			t.Fatalf("ByID %q: %v", c.ID, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", c.ID, got, c)
		}
	}
}

func TestStoreCreateFillsTimestamps(t *testing.T) {
	s := NewStore(dbtest.Open(t).Gorm)
	before := time.Now().Add(-time.Second)
	if err := s.Create(t.Context(), &Client{ID: "t"}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	c, err := s.ByID(t.Context(), "t")
	if err != nil {
		t.Fatalf("ByID: %v", err)
	}
	if c.CreatedAt.Before(before) || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Fatalf("timestamps %v / %v", c.CreatedAt, c.UpdatedAt)
	}
	if c.RedirectURIs == nil || len(c.RedirectURIs) != 0 {
		t.Fatalf("nil list should be stored as [], got %#v", c.RedirectURIs)
	}
}

func TestStoreErrors(t *testing.T) {
	s := NewStore(dbtest.Open(t).Gorm)
	if err := s.Create(t.Context(), fullClient("x")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	tests := []struct {
		name string
		run  func(ctx context.Context) error
		want error
	}{
		{"duplicate create", func(ctx context.Context) error { return s.Create(ctx, fullClient("x")) }, db.ErrConflict},
		{"by unknown id", func(ctx context.Context) error { _, err := s.ByID(ctx, "nope"); return err }, db.ErrNotFound},
		{"delete unknown id", func(ctx context.Context) error { return s.Delete(ctx, "nope") }, db.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(t.Context()); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestStoreListAndDelete(t *testing.T) {
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	// Mixed case and punctuation: byte order must win over any collation.
	for _, id := range []string{"b", "a.b", "B", "a-b", "a", "_z", "~t", "A"} {
		if err := s.Create(t.Context(), fullClient(id)); err != nil {
			t.Fatalf("Create %q: %v", id, err)
		}
	}
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	want := []string{"A", "B", "_z", "a", "a-b", "a.b", "b", "~t"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("List order %q, want %q", ids, want)
	}
	if !reflect.DeepEqual(&list[0], fullClient("A")) {
		t.Errorf("List entry %+v differs from what was stored", list[0])
	}
	if err := s.Delete(t.Context(), "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.ByID(t.Context(), "a"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("ByID after Delete: %v", err)
	}
	if err := s.Delete(t.Context(), "a"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if n := countClients(t, d); n != int64(len(want)-1) {
		t.Fatalf("%d rows after Delete, want %d", n, len(want)-1)
	}
}

func TestStoreListEmpty(t *testing.T) {
	list, err := NewStore(dbtest.Open(t).Gorm).List(t.Context())
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want empty", list, err)
	}
}

// TestStoreJoinsTransaction checks that Store uses the transaction in ctx,
// so a caller's rollback undoes its writes.
func TestStoreJoinsTransaction(t *testing.T) {
	d := dbtest.Open(t)
	s := NewStore(d.Gorm)
	boom := errors.New("boom")
	err := d.Tx(t.Context(), func(ctx context.Context) error {
		if err := s.Create(ctx, fullClient("tx")); err != nil {
			return err
		}
		if _, err := s.ByID(ctx, "tx"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx: %v", err)
	}
	if n := countClients(t, d); n != 0 {
		t.Fatalf("%d rows after rollback, want 0", n)
	}
}
