package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// runWorker runs the document pipeline until SIGTERM/SIGINT (main cancels
// ctx), then lets in-flight jobs finish or hands them back.
func runWorker(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("worker takes no arguments (configuration is read from the environment)")
	}
	cfg, err := config.Load(config.Worker)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", "worker")
	slog.SetDefault(log)
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	ropt, err := cfg.RedisOptions()
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err := rdb.Ping(pingCtx).Err(); err == nil {
			break
		} else if pingCtx.Err() != nil {
			return fmt.Errorf("connect to redis: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	w, err := worker.New(cfg, worker.Deps{Pool: pool, Redis: rdb, Logger: log})
	if err != nil {
		return err
	}
	return w.Run(ctx)
}
