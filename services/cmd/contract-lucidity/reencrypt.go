package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
)

// runReencrypt rewrites the stored AI provider keys with the current
// ENCRYPTION_KEY (opening them with it or ENCRYPTION_PREVIOUS_KEYS), then
// exits. Idempotent, and safe to run while the services serve and from
// several places at once. Run it after every backend and worker has the
// new key; afterwards the previous key can be removed.
func runReencrypt(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.Reencrypt)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	box, err := secretbox.New(cfg.EncryptionKey, cfg.EncryptionPreviousKeys...)
	if err != nil {
		return err
	}
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := backend.ReencryptProviderKeys(ctx, pool, box)
	if err != nil {
		return fmt.Errorf("reencrypt: %w", err)
	}
	log.Info("stored AI provider keys re-encrypted", "rewritten", res.Rewritten, "already_current", res.Current,
		"undecryptable", len(res.Failed), "key_id", secretbox.KeyID(cfg.EncryptionKey))
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d stored provider keys open with neither ENCRYPTION_KEY nor ENCRYPTION_PREVIOUS_KEYS and were left as they are (providers %s): add the key they were sealed with to ENCRYPTION_PREVIOUS_KEYS, or enter those API keys again",
			len(res.Failed), strings.Join(res.Failed, ", "))
	}
	return nil
}
