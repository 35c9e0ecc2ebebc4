package backend_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
)

// legacySeal is how provider keys were stored before key versions:
// nonce || AES-256-GCM ciphertext, no key id.
func legacySeal(t *testing.T, key []byte, plain string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plain), nil)
}

func newKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// Rotating ENCRYPTION_KEY: with the old key as previous, re-encryption
// rewrites every stored provider key (versioned or legacy) with the new
// key; afterwards the new key alone opens them, to the same plaintext.
// Running it again, or several times at once, changes nothing more.
func TestEncryptionKeyRotationReencryptsProviderKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	oldKey := e.cfg.EncryptionKey
	want := map[string]string{}
	for i := range 3 {
		plain := fmt.Sprintf("sk-rotate-%d-%s", i, randHex(8))
		id := e.createProvider("https://provider.invalid/v1").want(201).str("id")
		e.exec(`UPDATE ai_providers SET api_key_encrypted = NULL WHERE id = $1`, id)
		e.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"api_key": plain}).want(200)
		want[id] = plain
	}
	var legacyID string
	if err := e.db.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, api_key_encrypted)
		VALUES ('legacy', 'openai', 'https://provider.invalid/v1', $1) RETURNING id`, legacySeal(t, oldKey, "sk-legacy-key")).Scan(&legacyID); err != nil {
		t.Fatal(err)
	}
	want[legacyID] = "sk-legacy-key"
	e.exec(`INSERT INTO ai_providers (name, kind, base_url) VALUES ('keyless', 'openai', 'https://provider.invalid/v1')`)

	rotatedKey := newKey()
	rotated, err := secretbox.New(rotatedKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backend.ReencryptProviderKeys(ctx, e.db, rotated)
	if err != nil || res.Rewritten != 4 || res.Current != 0 || len(res.Failed) != 0 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	newOnly, _ := secretbox.New(rotatedKey)
	check := func() {
		t.Helper()
		for id, plain := range want {
			var sealed []byte
			if err := e.db.QueryRow(ctx, `SELECT api_key_encrypted FROM ai_providers WHERE id = $1`, id).Scan(&sealed); err != nil {
				t.Fatal(err)
			}
			got, err := newOnly.OpenString(sealed)
			if err != nil || got != plain || !newOnly.Current(sealed) {
				t.Fatalf("provider %s: %q %v", id, got, err)
			}
		}
	}
	check()
	if res, err := backend.ReencryptProviderKeys(ctx, e.db, rotated); err != nil || res.Rewritten != 0 || res.Current != 4 {
		t.Fatalf("second run: %+v %v", res, err)
	}

	// Another rotation, re-encrypted by several replicas at once: each
	// value is rewritten exactly once.
	oldKey, rotatedKey = rotatedKey, newKey()
	rotated, _ = secretbox.New(rotatedKey, oldKey)
	newOnly, _ = secretbox.New(rotatedKey)
	var mu sync.Mutex
	total := backend.ReencryptResult{}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			r, err := backend.ReencryptProviderKeys(ctx, e.db, rotated)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total.Rewritten += r.Rewritten
			total.Current += r.Current
			mu.Unlock()
		})
	}
	wg.Wait()
	if total.Rewritten != 4 || total.Current != 8 {
		t.Fatalf("concurrent runs: %+v", total)
	}
	check()

	// A value no configured key opens is reported and left as it is; the
	// others are still handled.
	stray := legacySeal(t, newKey(), "sk-unknown")
	var strayID string
	e.db.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, api_key_encrypted)
		VALUES ('stray', 'openai', 'https://provider.invalid/v1', $1) RETURNING id`, stray).Scan(&strayID)
	res, err = backend.ReencryptProviderKeys(ctx, e.db, rotated)
	if err != nil || len(res.Failed) != 1 || res.Failed[0] != strayID || res.Current != 4 {
		t.Fatalf("with an undecryptable value: %+v %v", res, err)
	}
}

// The backend reads provider keys sealed with the previous key while a
// rotation is under way (before re-encryption), and keys it saves are
// sealed with the new key.
func TestBackendOpensPreviousKeyDuringRotation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createProvider("https://provider.invalid/v1").want(201).str("id")
	rotated := *e.cfg
	rotated.EncryptionKey = newKey()
	rotated.EncryptionPreviousKeys = [][]byte{e.cfg.EncryptionKey}
	_, hs, logs := startServer(t, &rotated)
	replica := &env{t: t, cfg: &rotated, http: hs, admin: e.admin}
	// The connection test decrypts the stored key before connecting; a
	// decryption failure would say so.
	r := replica.do("POST", "/api/admin/ai-providers/"+id+"/test", e.admin, nil).want(200)
	if d := r.str("detail"); d == "stored API key cannot be decrypted (ENCRYPTION_KEY changed?)" {
		t.Fatalf("previous key not used: %s", r.body)
	}
	if !strings.Contains(logs.String(), "contract-lucidity reencrypt") {
		t.Error("start-up does not point at the re-encryption step")
	}
	replica.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"api_key": "sk-new-" + randHex(4)}).want(200)
	var sealed []byte
	e.db.QueryRow(ctx, `SELECT api_key_encrypted FROM ai_providers WHERE id = $1`, id).Scan(&sealed)
	newOnly, _ := secretbox.New(rotated.EncryptionKey)
	if !newOnly.Current(sealed) {
		t.Fatal("a key saved during the rotation is not sealed with the new key")
	}
	// Without the previous key the old values are unreadable, and the
	// connection test says so instead of failing obscurely.
	id2 := e.createProvider("https://provider.invalid/v1").want(201).str("id")
	noPrevious := rotated
	noPrevious.EncryptionPreviousKeys = nil
	_, hs2, _ := startServer(t, &noPrevious)
	r = (&env{t: t, cfg: &noPrevious, http: hs2}).do("POST", "/api/admin/ai-providers/"+id2+"/test", e.admin, nil).want(200)
	if r.json["ok"] != false || r.str("detail") != "stored API key cannot be decrypted (ENCRYPTION_KEY changed?)" {
		t.Fatalf("without the previous key: %s", r.body)
	}
}

// After the encryption key was lost and new values accepted, the provider
// list says which stored keys can no longer be read, so an admin knows to
// enter them again; a readable key is reported as stored, and no key (or
// ciphertext) is ever part of the answer.
func TestProviderListMarksKeysSealedWithALostKey(t *testing.T) {
	e := newEnv(t)
	id := e.createProvider("https://provider.invalid/v1").want(201).str("id")
	e.do("PATCH", "/api/admin/ai-providers/"+id, e.admin, map[string]any{"api_key": "sk-live-" + randHex(8)}).want(200)
	lost := *e.cfg
	lost.EncryptionKey = newKey() // the old key is gone: no previous keys
	_, hs, _ := startServer(t, &lost)
	after := &env{t: t, cfg: &lost, http: hs, admin: e.admin}
	keyless := after.createProvider("https://other.invalid/v1").want(201).str("id")
	fresh := after.createProvider("https://third.invalid/v1").want(201).str("id")
	after.do("PATCH", "/api/admin/ai-providers/"+fresh, e.admin, map[string]any{"api_key": "sk-live-" + randHex(8)}).want(200)
	e.exec(`UPDATE ai_providers SET api_key_encrypted = NULL WHERE id = $1`, keyless)

	list := after.do("GET", "/api/admin/ai-providers", e.admin, nil).want(200)
	if strings.Contains(string(list.body), "sk-live-") {
		t.Fatalf("a key is in the answer: %s", list.body)
	}
	got := map[string][2]bool{}
	for _, it := range list.items() {
		got[it["id"].(string)] = [2]bool{it["has_api_key"].(bool), it["api_key_unreadable"].(bool)}
	}
	want := map[string][2]bool{id: {true, true}, fresh: {true, false}, keyless: {false, false}}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("provider %s: has_api_key, api_key_unreadable = %v, want %v", k, got[k], v)
		}
	}
}
