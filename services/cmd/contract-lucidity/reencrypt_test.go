package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

func hexKey() (string, []byte) {
	k := make([]byte, 32)
	rand.Read(k)
	return hex.EncodeToString(k), k
}

// The operator's rotation step: with the new ENCRYPTION_KEY and the old
// one in ENCRYPTION_PREVIOUS_KEYS, `contract-lucidity reencrypt` rewrites
// the stored provider keys; run again with only the new key it finds
// nothing to do; a value it cannot open makes it fail, naming the provider.
func TestReencryptSubcommand(t *testing.T) {
	pg := testenv.PostgresTB(t)
	dbURL := pg.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	oldHex, oldKey := hexKey()
	newHex, newKey := hexKey()
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("LOG_LEVEL", "error")
	t.Setenv("ENCRYPTION_KEY", oldHex)
	if err := runMigrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	oldBox, _ := secretbox.New(oldKey)
	sealed, _ := oldBox.SealString("sk-live-rotate-me")
	var id string
	if err := conn.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, api_key_encrypted)
		VALUES ('p', 'openai', 'https://provider.invalid/v1', $1) RETURNING id`, sealed).Scan(&id); err != nil {
		t.Fatal(err)
	}

	t.Setenv("ENCRYPTION_KEY", newHex)
	t.Setenv("ENCRYPTION_PREVIOUS_KEYS", oldHex)
	if err := runReencrypt(ctx, nil); err != nil {
		t.Fatalf("reencrypt: %v", err)
	}
	t.Setenv("ENCRYPTION_PREVIOUS_KEYS", "")
	if err := runReencrypt(ctx, nil); err != nil {
		t.Fatalf("second run with the new key only: %v", err)
	}
	var stored []byte
	conn.QueryRow(ctx, `SELECT api_key_encrypted FROM ai_providers WHERE id = $1`, id).Scan(&stored)
	newBox, _ := secretbox.New(newKey)
	if got, err := newBox.OpenString(stored); err != nil || got != "sk-live-rotate-me" {
		t.Fatalf("after reencrypt: %q %v", got, err)
	}

	// A key sealed with a key nobody passed: refused loudly, left alone.
	_, lostKey := hexKey()
	lostBox, _ := secretbox.New(lostKey)
	lost, _ := lostBox.SealString("sk-lost")
	conn.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, api_key_encrypted)
		VALUES ('lost', 'openai', 'https://provider.invalid/v1', $1) RETURNING id`, lost).Scan(&id)
	err = runReencrypt(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "ENCRYPTION_PREVIOUS_KEYS") {
		t.Fatalf("undecryptable value: %v", err)
	}
	var still []byte
	conn.QueryRow(ctx, `SELECT api_key_encrypted FROM ai_providers WHERE id = $1`, id).Scan(&still)
	if string(still) != string(lost) {
		t.Fatal("an undecryptable value was changed")
	}
}
