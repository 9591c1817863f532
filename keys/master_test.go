package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKeyFile(t *testing.T, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return p
}

func TestLoadMasterKeyFormats(t *testing.T) {
	want := randomMaster(t)
	want[31] = '\n' // a raw key may end in a newline byte and must not be trimmed
	raw := want[:]
	cases := map[string][]byte{
		"raw":                raw,
		"raw+newline":        append(bytes.Clone(raw), '\n'),
		"hex":                []byte(hex.EncodeToString(raw)),
		"hex+crlf":           []byte(hex.EncodeToString(raw) + "\r\n"),
		"HEX":                []byte(strings.ToUpper(hex.EncodeToString(raw))),
		"base64 std padded":  []byte(base64.StdEncoding.EncodeToString(raw) + "\n"),
		"base64 std raw":     []byte(base64.RawStdEncoding.EncodeToString(raw)),
		"base64 url padded":  []byte(base64.URLEncoding.EncodeToString(raw)),
		"base64 url raw +nl": []byte(base64.RawURLEncoding.EncodeToString(raw) + "\n"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := LoadMasterKey(writeKeyFile(t, data, 0o600))
			if err != nil {
				t.Fatalf("LoadMasterKey: %v", err)
			}
			if got != want {
				t.Fatal("decoded key differs")
			}
		})
	}
}

func TestLoadMasterKeyRejects(t *testing.T) {
	cases := map[string]struct {
		data []byte
		mode os.FileMode
		want string
	}{
		"group readable": {make32(1), 0o640, "must not be readable by group or others (chmod 600)"},
		"world readable": {make32(1), 0o604, "chmod 600"},
		"empty":          {nil, 0o600, "neither 32 raw bytes"},
		"short":          {[]byte("abc"), 0o600, "neither 32 raw bytes"},
		"b64 of 16":      {[]byte(base64.StdEncoding.EncodeToString(make([]byte, 16))), 0o600, "decodes to 16 bytes"},
		"hex of 31":      {[]byte(hex.EncodeToString(make32(7)[:31])), 0o600, "neither 32 raw bytes"},
		"all zero":       {make([]byte, 32), 0o600, "all-zero"},
		"too large":      {make([]byte, 5000), 0o600, "larger than"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadMasterKey(writeKeyFile(t, c.data, c.mode))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	_, err := LoadMasterKey(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func make32(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestLoadOrCreateMasterKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := LoadOrCreateMasterKey(p)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Fatalf("created file: mode %v size %d, want 0600 and 32", st.Mode().Perm(), st.Size())
	}
	k2, created, err := LoadOrCreateMasterKey(p)
	if err != nil || created || k1 != k2 {
		t.Fatalf("second call: created=%v err=%v same=%v", created, err, k1 == k2)
	}
	if _, _, err := LoadOrCreateMasterKey(filepath.Join(t.TempDir(), "no", "dir", "k")); err == nil {
		t.Fatal("creating in a missing directory succeeded")
	}
}

func TestDerive(t *testing.T) {
	mk := randomMaster(t)
	a, b := mk.Derive("client-secret"), mk.Derive(sealLabel)
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("lengths %d, %d", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("distinct labels gave the same key")
	}
	if !bytes.Equal(a, mk.Derive("client-secret")) {
		t.Fatal("Derive is not deterministic")
	}
	if bytes.Equal(a, mk[:]) {
		t.Fatal("Derive returned the master key itself")
	}
	if other := randomMaster(t); bytes.Equal(a, other.Derive("client-secret")) {
		t.Fatal("different master keys gave the same derived key")
	}
}

func TestMasterKeyNeverPrinted(t *testing.T) {
	mk := randomMaster(t)
	out := fmt.Sprintf("%v %s %x %X %#v %+v", mk, mk, mk, mk, mk, mk)
	for _, secret := range []string{hex.EncodeToString(mk[:]), fmt.Sprint([32]byte(mk))} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
			t.Fatalf("formatted master key leaks it: %s", out)
		}
	}
	if mk.LogValue().String() != "redacted" {
		t.Fatal("LogValue leaks")
	}
}
