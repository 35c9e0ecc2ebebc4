package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// VectorDim is the dimension of clauses.embedding_vec (search.Dim; the
// search tests check that they agree).
const VectorDim = 384

// execer is what EnableVector needs from a *pgx.Conn or *pgxpool.Pool.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// EnableVector is the migration step of the optional pgvector path, run by
// every migrate after the numbered migrations: when the vector extension is
// installed, or available and creatable by this role, it adds
// clauses.embedding_vec, copies the existing embeddings into it and builds
// the HNSW cosine index, in one transaction. It reports whether pgvector is
// in use. Once the column exists it only reads, so a migrate on an enabled
// database takes no lock; a database whose server gains pgvector later is
// enabled by the next migrate.
//
// It is not a numbered migration because whether it applies depends on the
// server, not on the version. Call it outside a transaction: a refused
// CREATE EXTENSION would abort it.
func EnableVector(ctx context.Context, db execer) (bool, error) {
	var hasColumn, installed, available bool
	if err := db.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('clauses') AND attname = 'embedding_vec' AND NOT attisdropped),
			EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),
			EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')`).Scan(&hasColumn, &installed, &available); err != nil {
		return false, fmt.Errorf("check pgvector: %w", err)
	}
	if hasColumn {
		return true, nil
	}
	if !installed {
		if !available {
			return false, nil
		}
		// The app role may not be allowed to create it (the managed
		// database creates it at init as the superuser): then no pgvector.
		if _, err := db.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector`); err != nil {
			return false, nil
		}
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("enable pgvector: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	for _, s := range []string{
		fmt.Sprintf(`ALTER TABLE clauses ADD COLUMN IF NOT EXISTS embedding_vec vector(%d)`, VectorDim),
		fmt.Sprintf(`UPDATE clauses SET embedding_vec = embedding::vector(%d)
		  WHERE embedding IS NOT NULL AND embedding_vec IS NULL AND cardinality(embedding) = %d`, VectorDim, VectorDim),
		// Built after the backfill: one bulk build instead of one insert per row.
		`CREATE INDEX IF NOT EXISTS clauses_embedding_vec_hnsw_idx ON clauses USING hnsw (embedding_vec vector_cosine_ops)`,
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return false, fmt.Errorf("enable pgvector: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("enable pgvector: %w", err)
	}
	return true, nil
}
