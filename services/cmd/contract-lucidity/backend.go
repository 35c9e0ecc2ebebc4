package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// runBackend checks that the database is migrated to this version (run
// `migrate` first), then serves the API on BACKEND_ADDR (:8000) until
// SIGINT/SIGTERM.
func runBackend(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.Backend)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if !cfg.Production() {
		log.Warn("running in development mode: production safety checks are off")
	}
	srv, err := backend.New(ctx, cfg, backend.Options{Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Run(ctx)
}
