package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	if pg, err = testenv.StartPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// instance is a database and a document store, as one Contract Lucidity
// installation has them.
type instance struct {
	url   string
	pool  *pgxpool.Pool
	root  string // STORAGE_PATH of a filesystem store; "" with S3
	s3    *config.S3
	store storage.Store
}

// emptyInstance is a new, empty database and an empty filesystem store:
// what a restore starts from.
func emptyInstance(tb testing.TB) *instance {
	tb.Helper()
	in := &instance{url: pg.NewDatabase(tb), root: filepath.Join(tb.TempDir(), "storage")}
	pool, err := pgxpool.New(context.Background(), in.url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	in.pool = pool
	if in.store, err = storage.NewFilesystem(in.root); err != nil {
		tb.Fatal(err)
	}
	return in
}

// withS3 replaces the instance's store with a new prefix of srv's bucket.
func (in *instance) withS3(tb testing.TB, srv *testenv.S3) *instance {
	tb.Helper()
	cfg := config.S3{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
		PathStyle: true, PartSize: 5 << 20, Bucket: srv.Bucket, Prefix: fmt.Sprintf("i%x/", randomBytes(4, uint64(time.Now().UnixNano()))), SSE: config.SSEAuto}
	store, err := storage.OpenS3(context.Background(), cfg, storage.S3Options{})
	if err != nil {
		tb.Fatal(err)
	}
	in.root, in.s3, in.store = "", &cfg, store
	return in
}

// newInstance is a migrated and seeded instance with its storage.
func newInstance(tb testing.TB) *instance {
	tb.Helper()
	in := emptyInstance(tb)
	cfg := &config.Config{MaxUploadSizeMB: 100, BcryptCost: 4, InitialAdminEmail: "admin@example.com", InitialAdminPassword: "Initial-Passw0rd!"}
	if _, err := db.Setup(context.Background(), in.pool, cfg); err != nil {
		tb.Fatal(err)
	}
	return in
}

func (in *instance) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := in.pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func (in *instance) one(tb testing.TB, sql string, args ...any) string {
	tb.Helper()
	var s string
	if err := in.pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return s
}

const lawyerPassword = "Lawyer-Passw0rd-Long!"

// cuad returns the text of the i-th CUAD contract in testdata (cycling).
func cuad(tb testing.TB, i int) []byte {
	tb.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "cuad", "txt")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		tb.Fatalf("CUAD texts: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, entries[i%len(entries)].Name()))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// upload stores a document the way the backend does: the file is stored
// first, then the row is inserted.
func (in *instance) upload(ctx context.Context, projectID, userID, name string, content []byte) (string, error) {
	var id string
	if err := in.pool.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&id); err != nil {
		return "", err
	}
	key := storage.DocumentKey(id)
	if _, err := in.store.Put(ctx, key, bytes.NewReader(content), int64(len(content))); err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	_, err := in.pool.Exec(ctx, `INSERT INTO documents (id, project_id, original_name, file_type, mime_type, size_bytes, sha256, storage_key, uploaded_by)
		VALUES ($1, $2, $3, 'pdf', 'application/pdf', $4, $5, $6, $7)`, id, projectID, name, len(content), hex.EncodeToString(sum[:]), key, userID)
	if err != nil {
		_ = in.store.Remove(context.WithoutCancel(ctx), key)
		return "", err
	}
	return id, nil
}

// analyse stores what the worker would: extracted text, facts, clauses with
// embeddings, status complete.
func (in *instance) analyse(ctx context.Context, docID string, text []byte) error {
	return pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		clauses := analysis.SplitClauses(string(text))
		if len(clauses) > 40 {
			clauses = clauses[:40]
		}
		risks := []string{"low", "medium", "high"}
		cats := []string{"Governing Law", "Cap on Liability", "Termination for Convenience", "Other", "Non-Compete"}
		for i, c := range clauses {
			if _, err := tx.Exec(ctx, `INSERT INTO clauses (document_id, ordinal, heading, category, confidence, text, risk_level, explanation, embedding, embedding_model)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'offline-hash-v1')`,
				docID, c.Ordinal, c.Heading, cats[i%len(cats)], 0.5+float32(i%50)/100, c.Text, risks[i%3], "explanation "+c.Heading, analysis.Embed(c.Text)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE documents SET pipeline_status = 'complete', progress = 100, extracted_text = $2, page_count = $3,
			analyzer = 'offline/v1', facts = $4, completed_at = now() WHERE id = $1`,
			docID, string(text), 1+len(text)/3000, map[string]any{"governing_law": "Delaware", "parties": []string{"Acme", "Globex"}})
		return err
	})
}

// report writes a generated report's files, then completes its row (as the
// worker does).
func (in *instance) report(ctx context.Context, docID, userID string) (string, error) {
	var id string
	if err := in.pool.QueryRow(ctx, `INSERT INTO document_reports (document_id, requested_by) VALUES ($1, $2) RETURNING id`, docID, userID).Scan(&id); err != nil {
		return "", err
	}
	for format, body := range map[string]string{"html": "<h1>Report " + id + "</h1>", "pdf": "%PDF-1.4 report " + id} {
		if _, err := in.store.Put(ctx, storage.ReportKey(id, format), strings.NewReader(body), int64(len(body))); err != nil {
			return "", err
		}
	}
	_, err := in.pool.Exec(ctx, `UPDATE document_reports SET status = 'complete', html_key = $2, pdf_key = $3, completed_at = now() WHERE id = $1`,
		id, storage.ReportKey(id, "html"), storage.ReportKey(id, "pdf"))
	return id, err
}

// deleteDocument deletes as the backend does: the row (and its reports')
// in a transaction, then the files go to the trash.
func (in *instance) deleteDocument(ctx context.Context, id string) error {
	var reports []string
	err := pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text FROM document_reports WHERE document_id = $1`, id)
		if err != nil {
			return err
		}
		if reports, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	return in.store.TrashDocument(ctx, id, reports)
}

// fixture is what populate made.
type fixture struct {
	lawyer, lawyerEmail, project string
	docs, reports, clauses       []string
}

// populate fills an instance with every kind of row: users (one with a
// known password), projects and members, documents with CUAD contracts as
// files, clauses with embeddings, decisions, reports with files, an AI
// provider with an encrypted key, playbook edits, settings, refresh tokens
// and audit events, with awkward text (tabs, newlines, backslashes, NUL-free
// unicode) where COPY escaping matters.
func populate(tb testing.TB, in *instance, docs int) fixture {
	tb.Helper()
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte(lawyerPassword), 4)
	fx := fixture{lawyerEmail: "lee@example.com"}
	fx.lawyer = in.one(tb, `INSERT INTO users (email, name, password_hash, role, last_login) VALUES ($1, $2, $3, 'user', now()) RETURNING id`,
		fx.lawyerEmail, "Lee \"Tab\tNew\nline\" O'Brien \\ ü", string(hash))
	admin := in.one(tb, `SELECT id FROM users WHERE role = 'admin'`)
	fx.project = in.one(tb, `INSERT INTO projects (name, description, created_by) VALUES ('Acquisition – Globex', E'Due diligence\n\ttabbed \\ back', $1) RETURNING id`, admin)
	in.exec(tb, `INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'editor')`, fx.project, fx.lawyer)
	for i := range docs {
		text := cuad(tb, i)
		name := fmt.Sprintf("contract %03d\t– «%s».pdf", i, strings.Repeat("\\", i%3))
		id, err := in.upload(ctx, fx.project, fx.lawyer, name, text)
		if err != nil {
			tb.Fatal(err)
		}
		if err := in.analyse(ctx, id, text); err != nil {
			tb.Fatal(err)
		}
		fx.docs = append(fx.docs, id)
		if i%3 == 0 {
			rep, err := in.report(ctx, id, fx.lawyer)
			if err != nil {
				tb.Fatal(err)
			}
			fx.reports = append(fx.reports, rep)
		}
	}
	rows, err := in.pool.Query(ctx, `SELECT id::text FROM clauses ORDER BY document_id, ordinal`)
	if err != nil {
		tb.Fatal(err)
	}
	if fx.clauses, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		tb.Fatal(err)
	}
	for i, c := range fx.clauses {
		if i%7 == 0 {
			in.exec(tb, `INSERT INTO clause_decisions (clause_id, decision, comment, decided_by) VALUES ($1, $2, $3, $4)`,
				c, []string{"accept", "reject", "negotiate"}[i%3], fmt.Sprintf("cap at fees\nline %d", i), fx.lawyer)
		}
	}
	box, err := secretbox.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	sealed, _ := box.SealString("sk-test-not-a-real-key")
	provider := in.one(tb, `INSERT INTO ai_providers (name, kind, base_url, model, api_key_encrypted) VALUES ('OpenAI', 'openai', 'https://api.example.com/v1', 'gpt-4o-mini', $1) RETURNING id`, sealed)
	in.exec(tb, `UPDATE ai_capability_mappings SET provider_id = $1, model = 'gpt-4o' WHERE capability = 'reasoning'`, provider)
	in.exec(tb, `DELETE FROM playbook_rules WHERE category = 'Governing Law'`)
	in.exec(tb, `INSERT INTO playbook_rules (category, pattern, risk_level, explanation, priority) VALUES ('Exclusivity', 'worldwide', 'high', 'Our own rule', 5)`)
	in.exec(tb, `UPDATE system_config SET value = '["pdf","docx"]', updated_by = $1 WHERE key = 'supported_file_types'`, admin)
	in.exec(tb, `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, gen_random_uuid(), $2, now() + interval '7 days')`,
		fx.lawyer, strings.Repeat("ab", 32))
	for i := range 25 {
		in.exec(tb, `INSERT INTO audit_events (event_type, user_id, email, ip, detail) VALUES ($1, $2, $3, '10.0.0.1', $4)`,
			[]string{"login_failed", "login_succeeded", "permission_denied"}[i%3], fx.lawyer, fx.lawyerEmail, map[string]any{"n": i})
	}
	return fx
}

// fingerprint is, per application table, its row count and the md5 of its
// rows as text in a fixed order (derived clauses.embedding_vec left out),
// plus the applied migrations.
func fingerprint(tb testing.TB, pool *pgxpool.Pool) map[string]string {
	tb.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT table_name, string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> 'schema_migrations' AND NOT (table_name = 'clauses' AND column_name = 'embedding_vec')
		GROUP BY table_name`)
	if err != nil {
		tb.Fatal(err)
	}
	cols := map[string]string{}
	var t, c string
	if _, err := pgx.ForEachRow(rows, []any{&t, &c}, func() error { cols[t] = c; return nil }); err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for t, c := range cols {
		var n int64
		var sum string
		q := fmt.Sprintf(`SELECT count(*), md5(coalesce(string_agg(r::text, E'\n' ORDER BY r::text), '')) FROM (SELECT %s FROM %s) r`, c, pgx.Identifier{t}.Sanitize())
		if err := pool.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
			tb.Fatal(err)
		}
		out[t] = fmt.Sprintf("%d rows %s", n, sum)
	}
	var migrations string
	if err := pool.QueryRow(ctx, `SELECT string_agg(name, ',' ORDER BY name) FROM schema_migrations`).Scan(&migrations); err != nil {
		tb.Fatal(err)
	}
	out["schema_migrations"] = migrations
	return out
}

// storedFiles maps each stored file's key (documents/, reports/) to its
// sha256; temporary files and the trash are not the instance's files.
func storedFiles(tb testing.TB, store storage.Store) map[string]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string]string{}
	err := store.List(ctx, func(i storage.Info) error {
		f, err := store.Open(ctx, i.Key)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		out[i.Key] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func diffMaps(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q vs %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: missing vs %q", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// assertEmpty checks that a restore target was left untouched: no
// relation in the database and no file in the storage directory.
func assertEmpty(tb testing.TB, in *instance) {
	tb.Helper()
	var n int
	if err := in.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'i')`).Scan(&n); err != nil || n != 0 {
		tb.Fatalf("the target database has %d relations (%v)", n, err)
	}
	if in.root != "" {
		var files []string
		filepath.WalkDir(in.root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) > 0 {
			tb.Fatalf("the target storage has files: %v", files)
		}
	}
	if err := in.store.CheckEmpty(context.Background()); err != nil {
		tb.Fatalf("the target storage: %v", err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
