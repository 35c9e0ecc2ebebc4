package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	pg, err = testenv.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start postgres:", err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// applySchema runs the real migrations, in order. PGlite ships no pgcrypto;
// its gen_random_uuid() is built in (PostgreSQL 13+), so the test drops that
// line.
func applySchema(t *testing.T, ctx context.Context, db DB, pglite bool) {
	t.Helper()
	files, err := filepath.Glob("../db/migrations/*.sql")
	if err != nil || len(files) < 3 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		schema := string(b)
		if pglite {
			schema = strings.Replace(schema, "CREATE EXTENSION IF NOT EXISTS pgcrypto;", "", 1)
		}
		if _, err := db.Exec(ctx, schema); err != nil {
			t.Fatalf("apply %s: %v", filepath.Base(f), err)
		}
	}
	playbook, err := os.ReadFile("../db/migrations/0002_playbook.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, string(playbook)); err != nil { // idempotent
		t.Fatalf("apply 0002_playbook again: %v", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM playbook_rules`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(analysis.DefaultRules()); n != want {
		t.Fatalf("playbook_rules has %d rows after applying 0002 twice, want %d", n, want)
	}
}

type fixture struct {
	projects []string
	docs     []string
	clauses  []seeded
}

type seeded struct {
	id, doc, project string
	vec              []float32
}

var contracts = []string{
	"ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.layout.txt",
	"DataCallTechnologies_20060918_SB-2A_EX-10.9_944510_EX-10.9_Content_License_Agreement.layout.txt",
	"RaeSystemsInc_20001114_10-Q_EX-10.57_2631790_EX-10.57_Co-Branding_Agreement.txt",
}

// seed inserts two projects and one document per real CUAD contract (the
// first two in project 0, the third in project 1) with their clauses and
// offline embeddings. Documents from index `from` on are seeded.
func seed(t *testing.T, ctx context.Context, db DB, f *fixture, from, to int) {
	t.Helper()
	if len(f.projects) == 0 {
		for i := 0; i < 2; i++ {
			var id string
			if err := db.QueryRow(ctx, `INSERT INTO projects (name) VALUES ($1) RETURNING id::text`, fmt.Sprintf("p%d", i)).Scan(&id); err != nil {
				t.Fatal(err)
			}
			f.projects = append(f.projects, id)
		}
	}
	for i := from; i < to; i++ {
		name := contracts[i]
		b, err := os.ReadFile(filepath.Join("..", "analysis", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		project := f.projects[min(i/2, 1)]
		var doc string
		if err := db.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
			VALUES ($1, $2, 'pdf', $3, 'x', 'k') RETURNING id::text`, project, name, len(b)).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		f.docs = append(f.docs, doc)
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var embs []Embedding
		for _, c := range analysis.SplitClauses(string(b)) {
			var id string
			if err := tx.QueryRow(ctx, `INSERT INTO clauses (document_id, ordinal, heading, category, text, risk_level)
				VALUES ($1, $2, $3, 'Other', $4, 'low') RETURNING id::text`, doc, c.Ordinal, c.Heading, c.Text).Scan(&id); err != nil {
				t.Fatal(err)
			}
			v := analysis.Embed(c.Text)
			embs = append(embs, Embedding{ClauseID: id, Vector: v, Model: analysis.EmbedderVersion})
			f.clauses = append(f.clauses, seeded{id: id, doc: doc, project: project, vec: v})
		}
		if err := StoreEmbeddings(ctx, tx, embs); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// bruteForce is the reference: exact cosine over every visible clause of
// other documents, best first.
func (f *fixture) bruteForce(q seeded, scope Scope, limit int) []Result {
	visible := map[string]bool{}
	for _, p := range scope.ProjectIDs {
		visible[p] = true
	}
	var out []Result
	for _, c := range f.clauses {
		if c.doc == q.doc || !(scope.All || visible[c.project]) {
			continue
		}
		var dot float64
		for i := range c.vec {
			dot += float64(c.vec[i]) * float64(q.vec[i])
		}
		out = append(out, Result{ClauseID: c.id, DocumentID: c.doc, Score: dot})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ClauseID < out[j].ClauseID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func sameResults(t *testing.T, label string, got, want []Result, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", label, len(got), len(want))
	}
	for i := range want {
		if got[i].ClauseID != want[i].ClauseID || math.Abs(got[i].Score-want[i].Score) > tol {
			t.Fatalf("%s: result %d = %s (%.6f), want %s (%.6f)", label, i, got[i].ClauseID, got[i].Score, want[i].ClauseID, want[i].Score)
		}
	}
}

func connectPG(t *testing.T) (*pgxpool.Pool, context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	pool, err := pgxpool.New(ctx, pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, ctx
}

// The migrate command enables pgvector only where the server has it; on
// Debian's PostgreSQL 15 (no pgvector) search stays on the exact scan.
func TestExactScanOnPostgresMatchesBruteForce(t *testing.T) {
	pool, ctx := connectPG(t)
	if _, err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var available bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')`).Scan(&available); err != nil {
		t.Fatal(err)
	}
	on, err := HasVector(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if on != available {
		t.Fatalf("after migrate pgvector in use = %v, but available = %v", on, available)
	}
	f := &fixture{}
	seed(t, ctx, pool, f, 0, len(contracts))
	for i := 0; i < len(f.clauses); i += 9 {
		q := f.clauses[i]
		got, err := Similar(ctx, pool, q.id, AllProjects(), 5)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, fmt.Sprintf("clause %d", i), got, f.bruteForce(q, AllProjects(), 5), 1e-6)
		for _, r := range got {
			if r.DocumentID == q.doc || r.DocumentName == "" || r.Text == "" || r.ProjectID == "" {
				t.Fatalf("bad result %+v", r)
			}
		}
	}
}

// Vectors of different embedders are never compared: a clause embedded by a
// provider finds only clauses of that provider's model, even when an
// offline vector is numerically closer.
func TestSimilarComparesOnlyTheSameEmbedder(t *testing.T) {
	pool, ctx := connectPG(t)
	applySchema(t, ctx, pool, false)
	f := &fixture{}
	seed(t, ctx, pool, f, 0, 2)
	q := f.clauses[3]
	// Two clauses of another document with q's exact vector: one claimed by
	// a provider model, one offline.
	var doc string
	if err := pool.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
		VALUES ($1, 'other.pdf', 'pdf', 1, 'x', 'k') RETURNING id::text`, f.projects[0]).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2)
	for i := range ids {
		if err := pool.QueryRow(ctx, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level)
			VALUES ($1, $2, 'Other', 'same text', 'low') RETURNING id::text`, doc, i+1).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := StoreEmbeddings(ctx, pool, []Embedding{
		{ClauseID: ids[0], Vector: q.vec, Model: "openai:text-embedding-3-small"},
		{ClauseID: ids[1], Vector: q.vec, Model: analysis.EmbedderVersion},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := Similar(ctx, pool, q.id, AllProjects(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].ClauseID != ids[1] || math.Abs(got[0].Score-1) > 1e-5 {
		t.Fatalf("best match %+v, want the offline twin %s", got, ids[1])
	}
	for _, r := range got {
		if r.ClauseID == ids[0] {
			t.Fatalf("a provider-embedded clause matched an offline one: %+v", r)
		}
	}
	// And from the provider's side only its own model's clauses count.
	got, err = Similar(ctx, pool, ids[0], AllProjects(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("provider clause matched %d clauses of other embedders: %+v", len(got), got[0])
	}
}

func TestSimilarRespectsScope(t *testing.T) {
	pool, ctx := connectPG(t)
	applySchema(t, ctx, pool, false)
	f := &fixture{}
	seed(t, ctx, pool, f, 0, len(contracts))
	q := f.clauses[3] // a clause of document 0, project 0
	only1 := Projects(f.projects[1])
	got, err := Similar(ctx, pool, q.id, only1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d results in project 1, want 10", len(got))
	}
	for _, r := range got {
		if r.ProjectID != f.projects[1] {
			t.Fatalf("result from invisible project %s", r.ProjectID)
		}
	}
	sameResults(t, "project 1 only", got, f.bruteForce(q, only1, 10), 1e-6)

	got, err = Similar(ctx, pool, q.id, Projects(f.projects[0]), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.DocumentID != f.docs[1] {
			t.Fatalf("project 0 search returned document %s; want only the other document %s", r.DocumentID, f.docs[1])
		}
	}
	if got, err := Similar(ctx, pool, q.id, Scope{}, 5); err != nil || len(got) != 0 {
		t.Fatalf("empty scope: %d results, %v", len(got), err)
	}
	if _, err := Similar(ctx, pool, "00000000-0000-0000-0000-000000000000", AllProjects(), 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown clause: %v, want ErrNotFound", err)
	}
	if err := StoreEmbeddings(ctx, pool, []Embedding{{ClauseID: q.id, Vector: make([]float32, 10)}}); err == nil {
		t.Fatal("StoreEmbeddings accepted a 10-dimensional vector")
	}
}

func TestPgvectorOnPGliteMatchesExactScan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pool := testenv.PGliteTB(t, ctx)
	applySchema(t, ctx, pool, true)
	f := &fixture{}
	// The first document exists before pgvector is enabled (backfill path),
	// the others are stored afterwards (both columns written directly).
	seed(t, ctx, pool, f, 0, 1)
	if on, err := HasVector(ctx, pool); err != nil || on {
		t.Fatalf("HasVector before the migration step = %v, %v", on, err)
	}
	for i := 0; i < 2; i++ { // what every migrate run does; idempotent
		on, err := db.EnableVector(ctx, pool)
		if err != nil || !on {
			t.Fatalf("db.EnableVector on PGlite with pgvector = %v, %v; want true", on, err)
		}
	}
	if on, err := HasVector(ctx, pool); err != nil || !on {
		t.Fatalf("HasVector after the migration step = %v, %v", on, err)
	}
	var dim int
	if err := pool.QueryRow(ctx, `SELECT atttypmod FROM pg_attribute WHERE attrelid = 'clauses'::regclass AND attname = 'embedding_vec'`).Scan(&dim); err != nil || dim != Dim {
		t.Fatalf("embedding_vec has dimension %d (%v), search.Dim is %d", dim, err, Dim)
	}
	seed(t, ctx, pool, f, 1, len(contracts))
	var withVec, withArr int
	if err := pool.QueryRow(ctx, `SELECT count(embedding_vec), count(embedding) FROM clauses`).Scan(&withVec, &withArr); err != nil {
		t.Fatal(err)
	}
	if withVec != withArr || withVec != len(f.clauses) {
		t.Fatalf("embedding_vec set on %d clauses, embedding on %d, seeded %d", withVec, withArr, len(f.clauses))
	}
	var indexed bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'clauses_embedding_vec_hnsw_idx' AND indexdef LIKE '%hnsw%vector_cosine_ops%')`).Scan(&indexed); err != nil || !indexed {
		t.Fatalf("HNSW index missing: %v", err)
	}
	scopes := []Scope{AllProjects(), Projects(f.projects[1])}
	for i := 0; i < len(f.clauses); i += 11 {
		q := f.clauses[i]
		for _, scope := range scopes {
			viaIndex, err := Similar(ctx, pool, q.id, scope, 5) // auto-detects pgvector
			if err != nil {
				t.Fatal(err)
			}
			exact, err := similar(ctx, pool, q.vec, analysis.EmbedderVersion, scope, 5, q.doc, false)
			if err != nil {
				t.Fatal(err)
			}
			label := fmt.Sprintf("clause %d scope %v", i, scope.All)
			sameResults(t, label+" pgvector vs exact scan", viaIndex, exact, 1e-5)
			sameResults(t, label+" exact scan vs brute force", exact, f.bruteForce(q, scope, 5), 1e-6)
		}
	}
}

// toward returns an L2-normalised vector at cosine similarity cos with
// axis 0 (bending toward axis k).
func toward(cos float64, k int) []float32 {
	v := make([]float32, Dim)
	v[0] = float32(cos)
	v[k] = float32(math.Sqrt(1 - cos*cos))
	return v
}

// Similar clauses shown to people are at least MinSimilarity alike, and
// those of the clause's own category come first.
func TestRelatedKeepsCloseClausesSameCategoryFirst(t *testing.T) {
	pool, ctx := connectPG(t)
	applySchema(t, ctx, pool, false)
	var project string
	if err := pool.QueryRow(ctx, `INSERT INTO projects (name) VALUES ('p') RETURNING id::text`).Scan(&project); err != nil {
		t.Fatal(err)
	}
	newDoc := func() string {
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
			VALUES ($1, 'd.pdf', 'pdf', 1, 'x', 'k') RETURNING id::text`, project).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	add := func(doc, category string, ordinal int, vec []float32) string {
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level)
			VALUES ($1, $2, $3, 'text', 'low') RETURNING id::text`, doc, ordinal, category).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := StoreEmbeddings(ctx, pool, []Embedding{{ClauseID: id, Vector: vec, Model: analysis.EmbedderVersion}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	q := add(newDoc(), "Governing Law", 1, toward(1, 1))
	other := newDoc()
	closeOther := add(other, "Cap On Liability", 1, toward(0.95, 2))
	sameCat := add(other, "Governing Law", 2, toward(0.6, 3))
	justAbove := add(other, "Other", 3, toward(0.45, 4))
	add(other, "Governing Law", 4, toward(0.3, 5)) // same category, too far
	add(other, "Insurance", 5, toward(0.1, 6))

	raw, err := Similar(ctx, pool, q, AllProjects(), 10)
	if err != nil || len(raw) != 5 {
		t.Fatalf("Similar: %d results, %v", len(raw), err)
	}
	got, err := Related(ctx, pool, q, AllProjects(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ClauseID)
		if r.Score < MinSimilarity {
			t.Errorf("clause %s at %.2f is below the floor", r.ClauseID, r.Score)
		}
	}
	if want := []string{sameCat, closeOther, justAbove}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("related %v, want %v (same category first, then by score, none below %.1f)", ids, want, MinSimilarity)
	}
	if got, err := Related(ctx, pool, q, AllProjects(), 1); err != nil || len(got) != 1 || got[0].ClauseID != sameCat {
		t.Fatalf("limit 1: %+v %v", got, err)
	}
	if _, err := Related(ctx, pool, "00000000-0000-0000-0000-000000000000", AllProjects(), 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown clause: %v", err)
	}
}
