package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106 §3.1). Each stored hash
// carries its own, so raising them later only affects new hashes, and old
// ones are upgraded as their owners sign in.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived hash in bytes.
	KeyLen uint32
}

// DefaultParams is the OWASP Password Storage Cheat Sheet's argon2id
// configuration m=19 MiB, t=2, p=1: tens of milliseconds per sign-in on one
// core, with a 128-bit salt and a 256-bit hash.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformedHash is returned by VerifyPassword when the stored string is
// not an argon2id PHC string this package would accept, including one whose
// parameters are out of bounds.
var ErrMalformedHash = errors.New("malformed password hash")

// Bounds on parameters. A stored hash is input too: one naming 4 GiB of
// memory or a million passes would turn every sign-in into a denial of
// service, and a 1-byte hash would be guessable, so both are refused.
const (
	maxMemory     = 1 << 20 // KiB, i.e. 1 GiB
	maxTime       = 16
	maxThreads    = 64
	minSaltLen    = 8 // RFC 9106 §3.1 recommends 16; 8 is its floor for PHC.
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 128
	maxEncodedLen = 512
)

// phcPrefix and phcVersion pin the only algorithm and version this package
// writes (argon2.Version, 0x13); argon2i, argon2d and version 16 are refused.
const (
	phcPrefix  = "$argon2id$"
	phcVersion = "v=19"
)

// Validate reports whether p lies within the bounds VerifyPassword accepts,
// so a configuration error surfaces at start-up, not at the first sign-in.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("argon2id threads %d outside 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		// RFC 9106 §3.1: memory is at least 8 KiB per lane.
		return fmt.Errorf("argon2id memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashPassword derives an argon2id hash of password with a fresh random
// salt and returns it as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, with salt and
// hash in unpadded standard base64.
func HashPassword(password string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return phcString(p, salt, key), nil
}

// phcString is the one spelling of a hash that parsePHC accepts.
func phcString(p Params, salt, key []byte) string {
	return fmt.Sprintf("%s%s$m=%d,t=%d,p=%d$%s$%s", phcPrefix, phcVersion, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifyPassword reports whether password matches the PHC string encoded.
// The hashes are compared in constant time. needsRehash is reported only
// for a match, and is true when encoded was made with parameters other than
// want, so the caller can store a fresh hash while it holds the password.
// A malformed encoded string is an error wrapping ErrMalformedHash; its
// text never repeats the string, which is secret.
func VerifyPassword(encoded, password string, want Params) (ok, needsRehash bool, err error) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != want, nil
}

// parsePHC splits an argon2id PHC string into its parameters, salt and
// hash. It is strict: exactly the fields HashPassword writes, in its order,
// canonical decimals and canonical base64, and parameters within bounds.
func parsePHC(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }
	if len(encoded) > maxEncodedLen {
		return p, nil, nil, malformed("too long")
	}
	rest, found := strings.CutPrefix(encoded, phcPrefix)
	if !found {
		return p, nil, nil, malformed("not an argon2id PHC string")
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 4 {
		return p, nil, nil, malformed("want version, parameters, salt and hash")
	}
	if fields[0] != phcVersion {
		return p, nil, nil, malformed("unsupported argon2 version")
	}
	if p, err = parseCost(fields[1]); err != nil {
		return p, nil, nil, malformed(err.Error())
	}
	if salt, err = decodeB64(fields[2]); err != nil {
		return p, nil, nil, malformed("salt: " + err.Error())
	}
	if key, err = decodeB64(fields[3]); err != nil {
		return p, nil, nil, malformed("hash: " + err.Error())
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return p, nil, nil, malformed(err.Error())
	}
	return p, salt, key, nil
}

// parseCost parses "m=<KiB>,t=<passes>,p=<lanes>". Other PHC parameters
// (keyid, data) are refused: this package never writes them. Each number
// must fit its field, so nothing wraps into range when narrowed; the range
// itself is Validate's to check.
func parseCost(s string) (Params, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return Params{}, errors.New("want m, t and p parameters")
	}
	var vals [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		v, found := strings.CutPrefix(parts[i], name+"=")
		if !found {
			return Params{}, fmt.Errorf("want parameter %s in position %d", name, i+1)
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := parseDecimal(v, bits)
		if err != nil {
			return Params{}, fmt.Errorf("parameter %s: %w", name, err)
		}
		vals[i] = n
	}
	return Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}, nil
}

// parseDecimal accepts the PHC decimal form, digits only with no sign and
// no leading zero so each hash has exactly one spelling, of at most bits.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a canonical decimal")
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, errors.New("decimal out of range")
	}
	return n, nil
}

// decodeB64 decodes unpadded standard base64 and insists on the canonical
// encoding: the decoder alone would skip newlines and ignore stray bits.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical unpadded base64")
	}
	return b, nil
}
