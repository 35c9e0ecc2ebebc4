package db

// Migrations are a small runner rather than a library (goose would bring
// database/sql and its own locking): files migrations/NNNN_name.sql are
// applied in order, each in its own transaction, and recorded in
// schema_migrations with the sha256 of their SQL, all while holding
// pg_advisory_lock so several migrate runs can start at once.
//
// An applied migration is immutable: its recorded checksum must match the
// file, and a database that has migrations this binary does not know was
// migrated by a newer version. Both stop migrate, the backend and the
// worker with a message naming the migration.

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// lockKey identifies the migration advisory lock ("cl-migr" as an integer).
const lockKey int64 = 0x636c2d6d696772

// Errors of Verify and Migrate, for errors.Is; the messages name the
// migrations and what to do.
var (
	ErrNotMigrated      = errors.New("the database is not migrated to this version")
	ErrDatabaseNewer    = errors.New("the database was migrated by a newer version")
	ErrMigrationChanged = errors.New("an applied migration was changed")
)

// Migration is one embedded schema step. Migrations are identified by
// their file name (without .sql) and applied in lexical order, so two
// engineers choosing the same number (0002_a, 0002_b) do not collide.
type Migration struct {
	Name     string
	SQL      string
	Checksum string // sha256 of SQL (line endings normalised), hex
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
		out = append(out, newMigration(strings.TrimSuffix(name, ".sql"), string(b)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func newMigration(name, sql string) Migration {
	// A checkout with CRLF line endings must not count as a changed file.
	sum := sha256.Sum256([]byte(strings.ReplaceAll(sql, "\r\n", "\n")))
	return Migration{Name: name, SQL: sql, Checksum: hex.EncodeToString(sum[:])}
}

// Migrate applies pending migrations and the pgvector step (EnableVector)
// under the advisory lock and returns the names of the migrations it
// applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	err = withLock(ctx, pool, func(conn *pgx.Conn) error {
		var err error
		if applied, err = migrate(ctx, conn, all, nil); err != nil {
			return err
		}
		_, err = EnableVector(ctx, conn)
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

// appliedMigration is a schema_migrations row; checksum is empty for rows
// recorded before checksums existed.
type appliedMigration struct {
	name, checksum string
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readApplied reads schema_migrations. exists is false when the table is
// missing (an empty database); hasChecksums is false for a table created
// before checksums were recorded.
func readApplied(ctx context.Context, q querier) (rows []appliedMigration, exists, hasChecksums bool, err error) {
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('schema_migrations')
			AND attname = 'checksum' AND NOT attisdropped)`).Scan(&exists, &hasChecksums); err != nil {
		return nil, false, false, fmt.Errorf("read schema_migrations: %w", err)
	}
	if !exists {
		return nil, false, false, nil
	}
	sql := `SELECT name, '' FROM schema_migrations ORDER BY name`
	if hasChecksums {
		sql = `SELECT name, coalesce(checksum, '') FROM schema_migrations ORDER BY name`
	}
	r, err := q.Query(ctx, sql)
	if err != nil {
		return nil, true, hasChecksums, fmt.Errorf("read schema_migrations: %w", err)
	}
	rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) (appliedMigration, error) {
		var a appliedMigration
		err := row.Scan(&a.name, &a.checksum)
		return a, err
	})
	if err != nil {
		return nil, true, hasChecksums, fmt.Errorf("read schema_migrations: %w", err)
	}
	return rows, true, hasChecksums, nil
}

// compare checks the applied migrations against this binary's and returns
// those not applied yet. Unknown applied migrations and changed files are
// errors; rows without a checksum are accepted (migrate fills them in).
func compare(all []Migration, applied []appliedMigration) (pending []Migration, err error) {
	known := make(map[string]Migration, len(all))
	for _, m := range all {
		known[m.Name] = m
	}
	done := make(map[string]bool, len(applied))
	var unknown []string
	for _, a := range applied {
		done[a.name] = true
		m, ok := known[a.name]
		if !ok {
			unknown = append(unknown, a.name)
			continue
		}
		if a.checksum != "" && a.checksum != m.Checksum {
			return nil, fmt.Errorf("%w: migration %s was applied with checksum %s but this binary's file has %s; "+
				"applied migrations must never be edited: restore the original file and put the change in a new migration",
				ErrMigrationChanged, a.name, short(a.checksum), short(m.Checksum))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: it has migrations this binary does not know (%s); run that version of contract-lucidity or a newer one, "+
			"or restore the backup taken before the upgrade to go back", ErrDatabaseNewer, strings.Join(unknown, ", "))
	}
	for _, m := range all {
		if !done[m.Name] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Verify checks, without changing anything, that the database is migrated
// exactly to this binary's migrations: what the backend and the worker run
// at start.
func Verify(ctx context.Context, q querier) error {
	all, err := Migrations()
	if err != nil {
		return err
	}
	return verify(ctx, q, all)
}

const runMigrate = `run "contract-lucidity migrate" of this version first (on Kubernetes the operator's migration Job does it)`

func verify(ctx context.Context, q querier, all []Migration) error {
	applied, exists, hasChecksums, err := readApplied(ctx, q)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: it has no schema yet; %s", ErrNotMigrated, runMigrate)
	}
	pending, err := compare(all, applied)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		names := make([]string, len(pending))
		for i, m := range pending {
			names[i] = m.Name
		}
		return fmt.Errorf("%w: migrations %s are not applied; %s", ErrNotMigrated, strings.Join(names, ", "), runMigrate)
	}
	for _, a := range applied {
		if !hasChecksums || a.checksum == "" {
			return fmt.Errorf("%w: schema_migrations has no checksum for %s (migrated by an older version); %s",
				ErrNotMigrated, a.name, runMigrate)
		}
	}
	return nil
}

// migrator is a *pgx.Conn, or a pgx.Tx (see MigrateTx), where each
// migration's Begin is a savepoint.
type migrator interface {
	querier
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// migrate applies the pending migrations of all that want accepts (nil:
// all) on conn (which holds the migration lock). A schema_migrations table
// from before checksums gets the column, and the checksums of the
// migrations this binary knows, first.
func migrate(ctx context.Context, conn migrator, all []Migration, want func(name string) bool) ([]string, error) {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now(),
		checksum   text)`); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, _, hasChecksums, err := readApplied(ctx, conn)
	if err != nil {
		return nil, err
	}
	pending, err := compare(all, applied)
	if err != nil {
		return nil, err
	}
	if !hasChecksums {
		if _, err := conn.Exec(ctx, `ALTER TABLE schema_migrations ADD COLUMN checksum text`); err != nil {
			return nil, fmt.Errorf("add schema_migrations.checksum: %w", err)
		}
	}
	known := make(map[string]Migration, len(all))
	for _, m := range all {
		known[m.Name] = m
	}
	for _, a := range applied {
		if a.checksum != "" {
			continue
		}
		m := known[a.name] // compare refused names it does not know
		if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET checksum = $2 WHERE name = $1 AND checksum IS NULL`,
			m.Name, m.Checksum); err != nil {
			return nil, fmt.Errorf("record checksum of %s: %w", m.Name, err)
		}
	}
	var names []string
	for _, m := range pending {
		if want != nil && !want(m.Name) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return names, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		names = append(names, m.Name)
	}
	return names, nil
}
