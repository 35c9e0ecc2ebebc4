package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
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

// legacySeal is the format before key versions: nonce || ciphertext+tag.
func legacySeal(t *testing.T, k []byte, plain string) []byte {
	t.Helper()
	block, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plain), nil)
}

func TestRotationOpensPreviousAndLegacyValues(t *testing.T) {
	oldBox, _ := New(key(1))
	sealedOld, _ := oldBox.SealString("sk-versioned")
	legacy := legacySeal(t, key(1), "sk-legacy")
	if got, err := oldBox.OpenString(legacy); err != nil || got != "sk-legacy" {
		t.Fatalf("legacy value with the same key: %q %v", got, err)
	}
	if !bytes.HasPrefix(sealedOld, append([]byte("CL1"), keyIDBytes(key(1))...)) {
		t.Fatalf("sealed value does not name its key: %x", sealedOld[:7])
	}
	rotated, err := New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string][]byte{"sk-versioned": sealedOld, "sk-legacy": legacy} {
		got, err := rotated.OpenString(want)
		if err != nil || got != in {
			t.Fatalf("after rotation: %q %v", got, err)
		}
		if rotated.Current(want) {
			t.Fatalf("%s reported as sealed with the current key", in)
		}
		out, changed, err := rotated.Reseal(want)
		if err != nil || !changed || !rotated.Current(out) {
			t.Fatalf("reseal: changed=%v current=%v %v", changed, rotated.Current(out), err)
		}
		again, changed, err := rotated.Reseal(out)
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("second reseal rewrote the value: %v %v", changed, err)
		}
		// Only the new key is needed afterwards.
		newOnly, _ := New(key(2))
		if got, err := newOnly.OpenString(out); err != nil || got != in {
			t.Fatalf("resealed value with the new key alone: %q %v", got, err)
		}
	}
	// Without the old key, old values do not open.
	newOnly, _ := New(key(2))
	if _, err := newOnly.Open(sealedOld); !errors.Is(err, ErrOpen) {
		t.Fatalf("old value opened without its key: %v", err)
	}
	if _, err := newOnly.Open(legacy); !errors.Is(err, ErrOpen) {
		t.Fatalf("legacy value opened without its key: %v", err)
	}
}

func TestHeaderIsAuthenticated(t *testing.T) {
	box, _ := New(key(2), key(1))
	sealed, _ := box.SealString("sk-secret")
	// Relabel the value as sealed by the other key: refused, not misread.
	forged := append([]byte(nil), sealed...)
	copy(forged[3:7], keyIDBytes(key(1)))
	if _, err := box.Open(forged); !errors.Is(err, ErrOpen) {
		t.Fatalf("relabelled value: %v", err)
	}
	if _, _, err := box.Reseal(forged); !errors.Is(err, ErrOpen) {
		t.Fatalf("reseal of a relabelled value: %v", err)
	}
}

func keyIDBytes(k []byte) []byte { id := keyID(k); return id[:] }
