package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"golang.org/x/crypto/hkdf"
)

// MasterKey is the operator's 32-byte secret. It never encrypts anything
// directly: Derive turns it into one independent key per purpose, so the
// signing-key cipher and, say, a client-secret pepper cannot be confused.
type MasterKey [32]byte

// maxKeyFile bounds what LoadMasterKey reads, so a wrong path (a log file, a
// device) fails fast instead of filling memory.
const maxKeyFile = 1024

// LoadMasterKey reads a master key file holding 32 raw bytes, 64 hex
// characters, or the base64 (standard or URL alphabet, padded or not) of 32
// bytes, with an optional trailing newline. The file must not be accessible
// to group or others: whoever reads it can decrypt every signing key.
func LoadMasterKey(path string) (MasterKey, error) {
	var mk MasterKey
	f, err := os.Open(path)
	if err != nil {
		return mk, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return mk, fmt.Errorf("master key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return mk, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return mk, fmt.Errorf("master key file %s must not be readable by group or others (chmod 600)", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return mk, fmt.Errorf("master key file %s: %w", path, err)
	}
	defer clear(data)
	raw, err := decodeMasterKey(data)
	if err != nil {
		return mk, fmt.Errorf("master key file %s: %w", path, err)
	}
	copy(mk[:], raw)
	clear(raw)
	if mk == (MasterKey{}) {
		// An all-zero key is what a truncated or zero-filled file looks
		// like; encrypting under it would be encrypting under nothing.
		return mk, fmt.Errorf("master key file %s holds an all-zero key", path)
	}
	return mk, nil
}

// decodeMasterKey accepts the encodings LoadMasterKey documents. Exactly 32
// bytes are taken as raw before anything is trimmed, because a raw key may
// well end in a newline or space byte.
func decodeMasterKey(data []byte) ([]byte, error) {
	if len(data) == 32 {
		return bytes.Clone(data), nil
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("file is larger than %d bytes; want 32 raw bytes, 64 hex characters or base64 of 32 bytes", maxKeyFile)
	}
	for _, nl := range []string{"\n", "\r\n"} {
		if len(data) == 32+len(nl) && bytes.HasSuffix(data, []byte(nl)) {
			return bytes.Clone(data[:32]), nil
		}
	}
	text := string(bytes.TrimSpace(data))
	if len(text) == 64 {
		if b, err := hex.DecodeString(text); err == nil {
			return b, nil
		}
	}
	detail := ""
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(text); err == nil {
			if len(b) == 32 {
				return b, nil
			}
			detail = fmt.Sprintf(" (as base64 it decodes to %d bytes)", len(b))
			clear(b)
			break
		}
	}
	return nil, fmt.Errorf("file holds %d bytes: neither 32 raw bytes, 64 hex characters nor base64 of 32 bytes%s",
		len(data), detail)
}

// LoadOrCreateMasterKey loads path, or creates it with 32 random bytes and
// mode 0600 when it does not exist yet (the SQLite zero-configuration start).
// O_EXCL makes two processes starting together agree on one key: the loser
// of the create race loads the winner's file.
func LoadOrCreateMasterKey(path string) (key MasterKey, created bool, err error) {
	key, err = LoadMasterKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return MasterKey{}, false, fmt.Errorf("create master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err = LoadMasterKey(path)
		return key, false, err
	}
	if err != nil {
		return MasterKey{}, false, fmt.Errorf("create master key: %w", err)
	}
	_, err = f.Write(key[:])
	if err == nil {
		// The key must reach the disk before any signing key is sealed
		// under it, or a crash could leave keys nobody can decrypt.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return MasterKey{}, false, fmt.Errorf("create master key %s: %w", path, err)
	}
	return key, true, nil
}

// Derive returns 32 bytes derived from the master key for one purpose
// (HKDF-SHA256, RFC 5869, with label as the info string). Distinct labels
// give independent keys, so a leak of one derived key (an HMAC pepper, say)
// reveals neither the master key nor its siblings. Labels are part of the
// stored data's format: changing one makes what it protected unreadable.
func (m MasterKey) Derive(label string) []byte {
	out := make([]byte, 32)
	r := hkdf.New(sha256.New, m[:], nil, []byte(label))
	if _, err := io.ReadFull(r, out); err != nil {
		// HKDF-SHA256 can produce 255*32 bytes; 32 cannot fail.
		panic("keys: hkdf: " + err.Error())
	}
	return out
}

// String hides the key, so a stray %v or %x in a log line prints no secret.
func (MasterKey) String() string { return "MasterKey(redacted)" }

// GoString hides the key from %#v as well.
func (MasterKey) GoString() string { return "keys.MasterKey(redacted)" }

// LogValue hides the key from log/slog.
func (MasterKey) LogValue() slog.Value { return slog.StringValue("redacted") }
