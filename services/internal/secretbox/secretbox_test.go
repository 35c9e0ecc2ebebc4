package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRoundTrip(t *testing.T) {
	box, err := New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := box.SealString("sk-secret")
	b, _ := box.SealString("sk-secret")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are identical (nonce reuse)")
	}
	if bytes.Contains(a, []byte("sk-secret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := box.OpenString(a)
	if err != nil || got != "sk-secret" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestOpenRejectsWrongKeyAndTampering(t *testing.T) {
	box, _ := New(key(1))
	other, _ := New(key(2))
	sealed, _ := box.SealString("sk-secret")
	if _, err := other.Open(sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong key: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := box.Open([]byte("short")); !errors.Is(err, ErrOpen) {
		t.Fatalf("short: %v", err)
	}
}

func TestNewRequires32ByteKey(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}
