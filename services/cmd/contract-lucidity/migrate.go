package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
)

// runMigrate applies the embedded migrations, the pgvector step (where the
// server has the extension) and the idempotent seed under the PostgreSQL
// advisory lock, then exits (the operator's migration step).
func runMigrate(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.Migrate)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := db.Setup(ctx, pool, cfg)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	vec, err := search.HasVector(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Info("migrations applied", "applied", applied, "count", len(applied), "pgvector", vec)
	return nil
}
