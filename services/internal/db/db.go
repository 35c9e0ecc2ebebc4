// Package db opens the PostgreSQL pool, applies the embedded schema
// migrations under an advisory lock (migrate.go), checks that a database
// matches this binary's migrations (Verify) and seeds the first-start data.
//
// Only `contract-lucidity migrate` (the operator's migration Job) changes
// the schema; the backend and the worker verify it at start and refuse to
// run against a database that is behind, ahead of, or different from
// their migrations.
package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// Open connects a pool to cfg.DatabaseURL and checks it with a ping. New
// connections fall back to cfg.DatabasePasswordFallback when the server
// refuses the password (see passwordFallback).
func Open(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", redact(err))
	}
	if pc.MaxConns < 10 {
		pc.MaxConns = 10
	}
	pc.MaxConnIdleTime = 5 * time.Minute
	if cfg.DatabasePasswordFallback != "" {
		pc.BeforeConnect = newPasswordFallback(pc.ConnConfig.Password, cfg.DatabasePasswordFallback).beforeConnect
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", redact(err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitPing(pingCtx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// waitPing retries until the database answers or ctx ends (PostgreSQL may
// still be starting next to us).
func waitPing(ctx context.Context, pool *pgxpool.Pool) error {
	for {
		err := pool.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return redact(err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// redact drops error text that could contain a connection string.
func redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "://") || strings.Contains(msg, "password") {
		return fmt.Errorf("database connection failed (details withheld: they may contain credentials)")
	}
	return err
}
