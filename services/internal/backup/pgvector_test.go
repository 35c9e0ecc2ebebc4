package backup_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// With pgvector in use (PGlite here: PostgreSQL 15 on this machine has no
// pgvector), clauses.embedding_vec (type vector) stays out of the backup,
// and the backup restores into a PostgreSQL without pgvector, where search
// uses the exact scan over clauses.embedding.
func TestPgvectorColumnIsLeftOut(t *testing.T) {
	ctx := context.Background()
	srcPool := testenv.PGliteTB(t, context.Background())
	// PGlite has no pgcrypto (gen_random_uuid is built in): apply the
	// migrations' SQL without it and record them as the runner does.
	all, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srcPool.Exec(ctx, `CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if _, err := srcPool.Exec(ctx, strings.Replace(m.SQL, "CREATE EXTENSION IF NOT EXISTS pgcrypto;", "", 1)); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := srcPool.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if vec, err := db.EnableVector(ctx, srcPool); err != nil || !vec {
		t.Fatalf("pgvector on PGlite: %v %v", vec, err)
	}
	src := &instance{pool: srcPool, root: filepath.Join(t.TempDir(), "storage")}
	if src.store, err = storage.NewFilesystem(src.root); err != nil {
		t.Fatal(err)
	}
	user := src.one(t, `INSERT INTO users (email, password_hash) VALUES ('v@example.com', 'x') RETURNING id::text`)
	project := src.one(t, `INSERT INTO projects (name) VALUES ('Vectors') RETURNING id::text`)
	for i := range 3 {
		text := cuad(t, 20+i)
		doc, err := src.upload(ctx, project, user, fmt.Sprintf("v%d.pdf", i), text)
		if err != nil {
			t.Fatal(err)
		}
		cl := analysis.SplitClauses(string(text))
		for j, c := range cl[:min(10, len(cl))] {
			var id string
			if err := srcPool.QueryRow(ctx, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level) VALUES ($1, $2, 'Other', $3, 'low') RETURNING id::text`,
				doc, j+1, c.Text).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if err := search.StoreEmbeddings(ctx, srcPool, []search.Embedding{{ClauseID: id, Vector: analysis.Embed(c.Text), Model: analysis.EmbedderVersion}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := src.one(t, `SELECT count(*)::text FROM clauses WHERE embedding_vec IS NULL`); n != "0" {
		t.Fatalf("%s clauses without a vector on the source", n)
	}
	dest := dirDest(t)
	m, err := backup.Create(ctx, srcPool, src.store, dest, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range m.Tables {
		if tb.Name == "clauses" && slices.Contains(tb.Columns, "embedding_vec") {
			t.Fatal("the pgvector column is in the backup")
		}
	}

	dst := emptyInstance(t)
	if _, err := restore(dst, dest, m.ID); err != nil {
		t.Fatal(err)
	}
	q := `SELECT string_agg(id::text || ':' || md5(text) || ':' || md5(embedding::text), ',' ORDER BY id) FROM clauses`
	if a, b := src.one(t, q), dst.one(t, q); a != b {
		t.Fatal("restored clauses differ from the source's")
	}
	var first string
	dst.pool.QueryRow(ctx, `SELECT id::text FROM clauses ORDER BY id LIMIT 1`).Scan(&first)
	hits, err := search.Similar(ctx, dst.pool, first, search.AllProjects(), 5)
	if err != nil || len(hits) == 0 {
		t.Fatalf("similar clauses on the restored instance: %v %v", hits, err)
	}
}
