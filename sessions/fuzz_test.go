package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/oauth"
	"idp/users"
)

// FuzzLookup feeds arbitrary cookie values to Lookup: it must never panic
// or fail with anything but ErrNoSession, and must find a session only for
// the exact secret that started it.
func FuzzLookup(f *testing.F) {
	d := dbtest.Open(f)
	ctx := context.Background()
	us := users.NewService(users.NewStore(d.Gorm), users.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, nil)
	u, err := us.Create(ctx, "fuzz@example.com", "seed passphrase 1", "", nil)
	if err != nil {
		f.Fatal(err)
	}
	svc := NewService(NewStore(d.Gorm), time.Hour, time.Now)
	token, _, err := svc.Start(ctx, u.ID, []string{"pwd"}, "127.0.0.1", "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", token, token[:len(token)-1], token + "=", "\x00", "%ff", oauth.HashSecret(token)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		sess, err := svc.Lookup(ctx, cookie)
		switch {
		case cookie == token:
			if err != nil || sess.UserID != u.ID {
				t.Fatalf("the real secret did not find its session: %v", err)
			}
		case err == nil:
			t.Fatalf("cookie %q found a session", cookie)
		case !errors.Is(err, ErrNoSession):
			t.Fatalf("cookie %q: unexpected error %v", cookie, err)
		}
	})
}
