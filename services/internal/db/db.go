// Package db opens the PostgreSQL pool, applies the embedded schema
// migrations under an advisory lock and seeds the first-start data.
//
// Migrations are a small runner rather than a library (goose would bring
// database/sql and its own locking): files migrations/NNNN_name.sql are
// applied in order, each in its own transaction, recorded in
// schema_migrations, all while holding pg_advisory_lock so several replicas
// (or the operator's migrate job and a starting backend) can run it at once.
package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// lockKey identifies the migration advisory lock ("cl-migr" as an integer).
const lockKey int64 = 0x636c2d6d696772

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

// Migration is one embedded schema step. Migrations are identified by
// their file name (without .sql) and applied in lexical order, so two
// engineers choosing the same number (0002_a, 0002_b) do not collide.
type Migration struct {
	Name string
	SQL  string
}

var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		if !migrationName.MatchString(name) {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql (lower case)", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Migrate applies pending migrations under the advisory lock and returns
// the names of those it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	var applied []string
	err := withLock(ctx, pool, func(conn *pgx.Conn) error {
		var err error
		applied, err = migrate(ctx, conn)
		return err
	})
	return applied, err
}

// withLock runs fn on one connection holding the migration advisory lock.
func withLock(ctx context.Context, pool *pgxpool.Pool, fn func(conn *pgx.Conn) error) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", redact(err))
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// Unlock with a fresh context: ctx may be cancelled already. If the
		// unlock fails the session ends with the connection anyway.
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Exec(uctx, "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
			c.Conn().Close(uctx)
		}
	}()
	return fn(c.Conn())
}

func migrate(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	done := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT name FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, v := range versions {
		done[v] = true
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range all {
		if done[m.Name] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (name) VALUES ($1)", m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}
