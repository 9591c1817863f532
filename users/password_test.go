package users

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapParams keep hashing fast in tests that are not about cost.
var cheapParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func mustHash(t testing.TB, password string, p Params) string {
	t.Helper()
	h, err := HashPassword(password, p)
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestPHCVersionMatchesLibrary(t *testing.T) {
	if want := "v=" + strconv.Itoa(argon2.Version); phcVersion != want {
		t.Fatalf("phcVersion = %q, x/crypto writes %q", phcVersion, want)
	}
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", DefaultParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q lacks the PHC prefix for DefaultParams", h)
	}
	ok, rehash, err := VerifyPassword(h, "correct horse battery staple", DefaultParams)
	if err != nil || !ok || rehash {
		t.Fatalf("VerifyPassword = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	if h2 := mustHash(t, "correct horse battery staple", DefaultParams); h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	h := mustHash(t, "correct horse battery staple", cheapParams)
	for _, pw := range []string{"", "correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple "} {
		ok, rehash, err := VerifyPassword(h, pw, cheapParams)
		if err != nil || ok || rehash {
			t.Errorf("VerifyPassword(%q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	weak := Params{Memory: 8192, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := mustHash(t, "password123", weak)
	ok, rehash, err := VerifyPassword(h, "password123", DefaultParams)
	if err != nil || !ok || !rehash {
		t.Fatalf("weaker hash: VerifyPassword = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if _, rehash, _ := VerifyPassword(h, "password123", weak); rehash {
		t.Error("hash made with want reported as needing a rehash")
	}
	if _, rehash, _ := VerifyPassword(h, "wrong password", DefaultParams); rehash {
		t.Error("needsRehash reported for a wrong password")
	}
	longer := cheapParams
	longer.KeyLen = 64
	if _, rehash, _ := VerifyPassword(mustHash(t, "password123", cheapParams), "password123", longer); !rehash {
		t.Error("different key length not reported as needing a rehash")
	}
}

func TestVerifyMalformed(t *testing.T) {
	valid := mustHash(t, "password123", cheapParams)
	f := strings.Split(valid, "$") // "", argon2id, v=19, m=..., salt, hash
	salt, hash := f[4], f[5]
	b64 := func(n int) string { return strings.Repeat("A", (n*8+5)/6) }
	join := func(parts ...string) string { return "$" + strings.Join(parts, "$") }
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join("argon2i", "v=19", "m=64,t=1,p=1", salt, hash)},
		{"no version", join("argon2id", "m=64,t=1,p=1", salt, hash)},
		{"version 16", join("argon2id", "v=16", "m=64,t=1,p=1", salt, hash)},
		{"missing hash", join("argon2id", "v=19", "m=64,t=1,p=1", salt)},
		{"extra field", valid + "$AAAA"},
		{"trailing dollar", valid + "$"},
		{"params reordered", join("argon2id", "v=19", "t=1,m=64,p=1", salt, hash)},
		{"param missing", join("argon2id", "v=19", "m=64,t=1", salt, hash)},
		{"keyid param", join("argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, hash)},
		{"memory zero", join("argon2id", "v=19", "m=0,t=1,p=1", salt, hash)},
		{"memory below 8 per lane", join("argon2id", "v=19", "m=15,t=1,p=2", salt, hash)},
		{"memory 2 GiB", join("argon2id", "v=19", "m=2097152,t=1,p=1", salt, hash)},
		{"memory wraps uint32", join("argon2id", "v=19", "m=4294967360,t=1,p=1", salt, hash)},
		{"time zero", join("argon2id", "v=19", "m=64,t=0,p=1", salt, hash)},
		{"time huge", join("argon2id", "v=19", "m=64,t=1000000,p=1", salt, hash)},
		{"threads zero", join("argon2id", "v=19", "m=64,t=1,p=0", salt, hash)},
		{"threads wraps uint8", join("argon2id", "v=19", "m=64,t=1,p=257", salt, hash)},
		{"leading zero", join("argon2id", "v=19", "m=064,t=1,p=1", salt, hash)},
		{"plus sign", join("argon2id", "v=19", "m=+64,t=1,p=1", salt, hash)},
		{"negative", join("argon2id", "v=19", "m=-64,t=1,p=1", salt, hash)},
		{"empty number", join("argon2id", "v=19", "m=,t=1,p=1", salt, hash)},
		{"padded salt", join("argon2id", "v=19", "m=64,t=1,p=1", salt+"==", hash)},
		{"newline in salt", join("argon2id", "v=19", "m=64,t=1,p=1", salt[:4]+"\n"+salt[4:], hash)},
		{"url alphabet", join("argon2id", "v=19", "m=64,t=1,p=1", salt, strings.NewReplacer("+", "-", "/", "_").Replace(hash)+"-_")},
		{"salt too short", join("argon2id", "v=19", "m=64,t=1,p=1", b64(4), hash)},
		{"hash too short", join("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(8))},
		{"hash too long", join("argon2id", "v=19", "m=64,t=1,p=1", salt, b64(129))},
		{"too long overall", valid + strings.Repeat("A", maxEncodedLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := VerifyPassword(tt.encoded, "password123", cheapParams)
			if !errors.Is(err, ErrMalformedHash) || ok || rehash {
				t.Fatalf("VerifyPassword = %v, %v, %v; want false, false, ErrMalformedHash", ok, rehash, err)

			}
			if tt.encoded != "" && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q repeats the stored hash", err)
			}
		})
	}
}

func TestHashPasswordRejectsBadParams(t *testing.T) {
	for _, p := range []Params{
		{},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 4},
	} {
		if _, err := HashPassword("password123", p); err == nil {
			t.Errorf("HashPassword with %+v succeeded", p)
		}
	}
	if err := DefaultParams.Validate(); err != nil {
		t.Errorf("DefaultParams.Validate: %v", err)
	}
}

// FuzzVerifyPassword feeds arbitrary stored strings to the PHC parser: it
// must never panic, and whatever it accepts must be canonical, i.e. the
// exact string HashPassword would write for those parameters.
func FuzzVerifyPassword(f *testing.F) {
	f.Add(mustHash(f, "password123", cheapParams), "password123")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Add("$argon2id$v=19$m=2097152,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("$argon2id$v=19$m=64,t=0,p=0$$", "")
	f.Add("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "pw")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		p, salt, key, err := parsePHC(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parse error %v does not wrap ErrMalformedHash", err)
			}
			if _, _, verr := VerifyPassword(encoded, password, cheapParams); verr == nil {
				t.Fatal("VerifyPassword accepted what parsePHC refused")
			}
			return
		}
		if canon := phcString(p, salt, key); canon != encoded {
			t.Fatalf("accepted non-canonical %q (canonical %q)", encoded, canon)
		}
		if uint64(p.Memory)*uint64(p.Time) > 4096 {
			t.Skip("valid but too costly to verify at fuzzing speed")
		}
		if _, _, err := VerifyPassword(encoded, password, cheapParams); err != nil {
			t.Fatalf("VerifyPassword on a parsed string: %v", err)
		}
	})
}
