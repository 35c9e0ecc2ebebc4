package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/frontend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// runFrontend serves the web UI on FRONTEND_ADDR (default :3000) and proxies
// /api to BACKEND_INTERNAL_URL.
func runFrontend(ctx context.Context, args []string) error {
	sc, err := config.Load(config.Frontend)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: sc.LogLevel})).With("service", "frontend")
	cfg, err := frontend.FromServiceConfig(sc)
	if err != nil {
		return fmt.Errorf("configuration refused: %w", err)
	}
	cfg.Logger = log
	h, err := frontend.New(cfg)
	if err != nil {
		return err
	}
	addr := sc.FrontendAddr
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	log.Info("frontend listening", "addr", ln.Addr().String(), "backend", cfg.BackendURL.Redacted(), "production", cfg.Production)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("frontend stopped")
	return nil
}
