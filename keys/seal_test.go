package keys

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealRoundTripAndBinding(t *testing.T) {
	s := mustSealer(randomMaster(t))
	msg := []byte(`{"d":"secret"}`)
	a, err := s.seal("kid-a", msg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.seal("kid-a", msg)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal: nonce not random")
	}
	if bytes.Contains(a, msg) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := s.open("kid-a", a)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := s.open("kid-b", a); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open under another kid: %v, want ErrWrongMasterKey", err)
	}
	flipped := bytes.Clone(a)
	flipped[len(flipped)-1] ^= 1
	if _, err := s.open("kid-a", flipped); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open tampered: %v, want ErrWrongMasterKey", err)
	}
	if _, err := s.open("kid-a", a[:10]); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open truncated: %v, want ErrWrongMasterKey", err)
	}
	if _, err := mustSealer(randomMaster(t)).open("kid-a", a); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open with another master key: %v, want ErrWrongMasterKey", err)
	}
}
