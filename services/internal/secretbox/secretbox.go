// Package secretbox encrypts small secrets (AI provider API keys) with
// AES-256-GCM under versioned keys: ENCRYPTION_KEY seals, it and
// ENCRYPTION_PREVIOUS_KEYS open.
//
// A sealed value is "CL1" || key id (4 bytes) || nonce || ciphertext+tag,
// with the 7-byte header as additional data, so the value names the key
// that sealed it. Values sealed before key versioning (nonce ||
// ciphertext+tag) still open: every key of the box is tried on them.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Box seals with the current key and opens with any key. It is safe for
// concurrent use.
type Box struct {
	current *boxKey
	keys    []*boxKey // current first
}

type boxKey struct {
	id   [4]byte
	aead cipher.AEAD
}

var magic = []byte("CL1")

const headerLen = 3 + 4

// ErrOpen is returned when a value cannot be decrypted (wrong key or tampered).
var ErrOpen = errors.New("secretbox: cannot decrypt value (wrong ENCRYPTION_KEY or corrupted data)")

// KeyID is the public id of a 32-byte key, as stored in sealed values.
func KeyID(k []byte) string {
	id := keyID(k)
	return hex.EncodeToString(id[:])
}

func keyID(k []byte) [4]byte {
	sum := sha256.Sum256(append([]byte("contract-lucidity encryption key id\x00"), k...))
	return [4]byte(sum[:4])
}

// New returns a Box that seals with current and opens values sealed with
// current or any of previous (config.Config.EncryptionKey and
// EncryptionPreviousKeys; 32 bytes each).
func New(current []byte, previous ...[]byte) (*Box, error) {
	b := &Box{}
	seen := map[[4]byte][]byte{}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("secretbox: key must be 32 bytes, got %d", len(k))
		}
		id := keyID(k)
		if prev, dup := seen[id]; dup {
			if bytes.Equal(prev, k) {
				continue
			}
			return nil, errors.New("secretbox: two keys share an id; generate another key")
		}
		seen[id] = k
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: %w", err)
		}
		kk := &boxKey{id: id, aead: aead}
		if i == 0 {
			b.current = kk
		}
		b.keys = append(b.keys, kk)
	}
	return b, nil
}

// Seal encrypts plaintext with the current key and a random nonce.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	a := b.current.aead
	out := make([]byte, headerLen+a.NonceSize(), headerLen+a.NonceSize()+len(plaintext)+a.Overhead())
	copy(out, magic)
	copy(out[len(magic):], b.current.id[:])
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	return a.Seal(out, nonce, plaintext, out[:headerLen]), nil
}

// Open decrypts a value produced by Seal with any key of the box, or a
// value of the unversioned format.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if out, _, ok := b.openVersioned(sealed); ok {
		return out, nil
	}
	// Unversioned: nonce || ciphertext. Authentication tells which key.
	for _, k := range b.keys {
		n := k.aead.NonceSize()
		if len(sealed) < n+k.aead.Overhead() {
			return nil, ErrOpen
		}
		if out, err := k.aead.Open(nil, sealed[:n], sealed[n:], nil); err == nil {
			return out, nil
		}
	}
	return nil, ErrOpen
}

func (b *Box) openVersioned(sealed []byte) (plain []byte, k *boxKey, ok bool) {
	if len(sealed) < headerLen || !bytes.Equal(sealed[:len(magic)], magic) {
		return nil, nil, false
	}
	id := [4]byte(sealed[len(magic):headerLen])
	for _, k := range b.keys {
		if k.id != id {
			continue
		}
		n := k.aead.NonceSize()
		body := sealed[headerLen:]
		if len(body) < n+k.aead.Overhead() {
			return nil, nil, false
		}
		out, err := k.aead.Open(nil, body[:n], body[n:], sealed[:headerLen])
		return out, k, err == nil
	}
	return nil, nil, false
}

// Reseal returns sealed re-encrypted with the current key, and whether
// anything changed: a value already sealed with the current key is
// returned as it is (so re-encryption is idempotent).
func (b *Box) Reseal(sealed []byte) ([]byte, bool, error) {
	if _, k, ok := b.openVersioned(sealed); ok && k == b.current {
		return sealed, false, nil
	}
	plain, err := b.Open(sealed)
	if err != nil {
		return nil, false, err
	}
	out, err := b.Seal(plain)
	return out, err == nil, err
}

// Current reports, from its header alone, whether a value names the
// current key (cheap; Reseal is the authoritative check).
func (b *Box) Current(sealed []byte) bool {
	return len(sealed) >= headerLen && bytes.Equal(sealed[:len(magic)], magic) &&
		[4]byte(sealed[len(magic):headerLen]) == b.current.id
}

// SealString and OpenString are conveniences for text secrets.
func (b *Box) SealString(s string) ([]byte, error) { return b.Seal([]byte(s)) }

// OpenString decrypts a value sealed by SealString.
func (b *Box) OpenString(sealed []byte) (string, error) {
	out, err := b.Open(sealed)
	return string(out), err
}
