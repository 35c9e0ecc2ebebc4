package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

var (
	// ErrNotEmpty: restore writes only into an empty database and storage.
	ErrNotEmpty = errors.New("restore target is not empty")
	// ErrUnknownSchema: the backup was taken at a schema this binary does
	// not know (a newer version made it).
	ErrUnknownSchema = errors.New("backup schema is newer than this binary")
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// AppVersion names this binary in messages.
	AppVersion string
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	Manifest *Manifest `json:"manifest"`
	// Migrated are the migrations applied after the data, to bring the
	// backup's schema to this binary's.
	Migrated []string `json:"migrated"`
}

// Restore loads backup id from dest into the empty database behind pool
// and the empty store. It checks everything it can before it writes
// anything: the manifest, that this binary knows the backup's schema, that
// the targets are empty, and every checksum of the archive. Then, in one
// transaction, it applies the migrations the backup was taken at, loads the
// rows, restores sequences, migrates forward and backfills derived columns;
// the files are stored as the archive is read, before the commit (each
// store's Put is all or nothing). A failure removes the files stored and
// leaves the database and the storage as they were.
func Restore(ctx context.Context, pool *pgxpool.Pool, store storage.Store, dest Destination, id string, opts RestoreOptions) (*RestoreResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("backup_id", id, "source", dest.String())
	m, err := ReadManifest(ctx, dest, id)
	if err != nil {
		return nil, err
	}
	if err := checkKnownMigrations(m, opts.AppVersion); err != nil {
		return nil, err
	}
	if err := checkEmptyDatabase(ctx, pool); err != nil {
		return nil, err
	}
	if err := store.CheckEmpty(ctx); err != nil {
		if errors.Is(err, storage.ErrNotEmpty) {
			return nil, fmt.Errorf("%v: restore only creates a new instance, into empty storage; nothing was changed: %w", err, ErrNotEmpty)
		}
		return nil, err
	}
	log.Info("verifying backup", "bytes", m.Archive.Size)
	if err := readArchive(ctx, dest, m, nil); err != nil {
		return nil, fmt.Errorf("backup %s: %w; nothing was restored", id, err)
	}
	log.Info("backup verified; restoring", "rows", m.Rows(), "files", m.Files.Count, "migration", m.Migration())
	res, err := restore(ctx, pool, store, dest, m)
	if err != nil {
		return nil, fmt.Errorf("restore backup %s: %w; nothing was restored", id, err)
	}
	log.Info("restore complete", "migrated", res.Migrated)
	return res, nil
}

func checkKnownMigrations(m *Manifest, version string) error {
	known, err := db.Migrations()
	if err != nil {
		return err
	}
	var unknown []string
	for _, name := range m.Migrations {
		if !slices.ContainsFunc(known, func(k db.Migration) bool { return k.Name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		if version == "" {
			version = "this one"
		}
		return fmt.Errorf("backup %s (made by version %s) has migrations this binary (version %s) does not know: %s; restore it with version %s or newer: %w",
			m.ID, m.AppVersion, version, strings.Join(unknown, ", "), m.AppVersion, ErrUnknownSchema)
	}
	return nil
}

// checkEmptyDatabase refuses a database with any table, view or sequence of
// its own in the current schema (extensions' objects do not count).
func checkEmptyDatabase(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d
		                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY c.relname LIMIT 6`)
	if err != nil {
		return fmt.Errorf("check that the database is empty: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check that the database is empty: %w", err)
	}
	if len(names) > 0 {
		if len(names) > 5 {
			names = append(names[:5], "...")
		}
		return fmt.Errorf("the database is not empty (it has %s): restore only creates a new instance from a backup, into an empty database; nothing was changed: %w",
			strings.Join(names, ", "), ErrNotEmpty)
	}
	return nil
}

func restore(ctx context.Context, pool *pgxpool.Pool, store storage.Store, dest Destination, m *Manifest) (res *RestoreResult, err error) {
	var stored []string
	defer func() {
		if err != nil {
			removeStored(context.WithoutCancel(ctx), store, stored)
		}
	}()

	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit

	// The schema the data was taken at.
	inBackup := func(name string) bool { return slices.Contains(m.Migrations, name) }
	applied, err := db.MigrateTx(ctx, tx, inBackup)
	if err != nil {
		return nil, fmt.Errorf("build the backup's schema: %w", err)
	}
	if !slices.Equal(applied, m.Migrations) {
		return nil, fmt.Errorf("the database was migrated by someone else while the restore started: %w", ErrNotEmpty)
	}
	if err := checkTargetTables(ctx, tx, m.Tables); err != nil {
		return nil, err
	}
	// Migrations may seed rows (the default playbook); the backup's rows
	// replace them.
	names := make([]string, len(m.Tables))
	for i, t := range m.Tables {
		names[i] = pgx.Identifier{t.Name}.Sanitize()
	}
	if len(names) > 0 {
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
			return nil, fmt.Errorf("clear seeded rows: %w", err)
		}
	}
	// The rows are restored as they were: triggers that maintain derived
	// values (documents.clause_count) must not count them again.
	for _, n := range names {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+n+" DISABLE TRIGGER USER"); err != nil {
			return nil, fmt.Errorf("disable triggers: %w", err)
		}
	}
	columns := map[string]string{}
	for _, t := range m.Tables {
		columns[t.Name] = columnList(t.Columns)
	}
	err = readArchive(ctx, dest, m, func(_ int, mem Member, r io.Reader) error {
		if table, ok := memberTable(mem.Name); ok {
			sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", pgx.Identifier{table}.Sanitize(), columns[table])
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql); err != nil {
				return fmt.Errorf("load %s: %w", mem.Name, err)
			}
			return nil
		}
		key, _ := memberKey(mem.Name)
		if _, err := store.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				err = fmt.Errorf("%s appeared in the storage during the restore: %w", key, ErrNotEmpty)
			}
			return err
		}
		if _, err := store.Put(ctx, key, r, mem.Size); err != nil {
			return fmt.Errorf("restore file %s: %w", key, err)
		}
		stored = append(stored, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+n+" ENABLE TRIGGER USER"); err != nil {
			return nil, fmt.Errorf("enable triggers: %w", err)
		}
	}
	for _, s := range m.Sequences {
		if _, err := tx.Exec(ctx, `SELECT setval($1::regclass, $2, $3)`, pgx.Identifier{s.Name}.Sanitize(), s.LastValue, s.IsCalled); err != nil {
			return nil, fmt.Errorf("restore sequence %s: %w", s.Name, err)
		}
	}
	res = &RestoreResult{Manifest: m}
	if res.Migrated, err = db.MigrateTx(ctx, tx, nil); err != nil {
		return nil, fmt.Errorf("migrate forward from %s: %w", m.Migration(), err)
	}
	if err := backfillDerived(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// checkTargetTables makes sure every table and column of the backup exists
// once the backup's migrations are applied.
func checkTargetTables(ctx context.Context, tx pgx.Tx, want []Table) error {
	have, err := appTables(ctx, tx)
	if err != nil {
		return err
	}
	for _, t := range want {
		i := slices.IndexFunc(have, func(h Table) bool { return h.Name == t.Name })
		if i < 0 {
			return fmt.Errorf("table %s of the backup does not exist at its schema level: %w", t.Name, ErrCorrupt)
		}
		for _, c := range t.Columns {
			if !slices.Contains(have[i].Columns, c) {
				return fmt.Errorf("column %s.%s of the backup does not exist at its schema level: %w", t.Name, c, ErrCorrupt)
			}
		}
	}
	return nil
}

// backfillDerived recomputes derived columns the backup leaves out:
// clauses.embedding_vec where pgvector is in use. Without it, the backend's
// search.EnsureVector adds and fills the column when pgvector appears.
func backfillDerived(ctx context.Context, tx pgx.Tx) error {
	vec, err := search.HasVector(ctx, tx)
	if err != nil || !vec {
		return err
	}
	_, err = tx.Exec(ctx, fmt.Sprintf(`UPDATE clauses SET embedding_vec = embedding::vector(%d)
		WHERE embedding IS NOT NULL AND embedding_vec IS NULL AND cardinality(embedding) = %d`, search.Dim, search.Dim))
	if err != nil {
		return fmt.Errorf("backfill clauses.embedding_vec: %w", err)
	}
	return nil
}

// removeStored undoes the files of a failed restore, leaving the storage
// empty as it was.
func removeStored(ctx context.Context, store storage.Store, keys []string) {
	for _, key := range keys {
		_ = store.Remove(ctx, key)
	}
}
