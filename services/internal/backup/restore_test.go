package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

func dirDest(tb testing.TB) backup.Destination {
	tb.Helper()
	d, err := backup.Open(tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func create(tb testing.TB, in *instance, dest backup.Destination) *backup.Manifest {
	tb.Helper()
	m, err := backup.Create(context.Background(), in.pool, in.store, dest, backup.Options{AppVersion: "test", ChunkBytes: 64 << 10})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func restore(in *instance, dest backup.Destination, id string) (*backup.RestoreResult, error) {
	return backup.Restore(context.Background(), in.pool, in.store, dest, id, backup.RestoreOptions{AppVersion: "test"})
}

// A backup restored into an empty database and storage reproduces every
// table (row by row), every file (byte by byte), the sequences and the
// applied migrations, and a backend started on the result serves the same
// documents, clauses and reports.
func TestRestoreReproducesTheInstance(t *testing.T) {
	src := newInstance(t)
	fx := populate(t, src, 12)
	// Where pgvector is in use, clauses.embedding_vec mirrors embedding; a
	// real[] stand-in here (PostgreSQL 15 on this machine has no pgvector)
	// must stay out of the backup like the real column.
	src.exec(t, `ALTER TABLE clauses ADD COLUMN embedding_vec real[]`)
	src.exec(t, `UPDATE clauses SET embedding_vec = embedding`)
	dest := dirDest(t)

	m := create(t, src, dest)
	if len(m.FileProblems) > 0 {
		t.Fatalf("file problems: %v", m.FileProblems)
	}
	if want := len(fx.docs) + 2*len(fx.reports); m.Files.Count != want {
		t.Fatalf("%d files in the backup, want %d", m.Files.Count, want)
	}
	for _, tb := range m.Tables {
		if tb.Name == "schema_migrations" {
			t.Fatal("schema_migrations is backed up")
		}
		if tb.Name == "clauses" && slices.Contains(tb.Columns, "embedding_vec") {
			t.Fatal("the derived clauses.embedding_vec is backed up")
		}
	}
	chunks := 0
	for _, mem := range m.Members {
		if strings.HasPrefix(mem.Name, "tables/clauses/") {
			chunks++
		}
	}
	if chunks < 2 {
		t.Fatalf("clauses went into %d archive members; a small ChunkBytes should split them", chunks)
	}

	dst := emptyInstance(t)
	res, err := restore(dst, dest, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Migrated) != 0 {
		t.Fatalf("migrated %v after restoring a backup of the current schema", res.Migrated)
	}
	if d := diffMaps(fingerprint(t, src.pool), fingerprint(t, dst.pool)); len(d) > 0 {
		t.Fatalf("restored tables differ:\n%s", strings.Join(d, "\n"))
	}
	if d := diffMaps(storedFiles(t, src.store), storedFiles(t, dst.store)); len(d) > 0 {
		t.Fatalf("restored files differ:\n%s", strings.Join(d, "\n"))
	}
	// Counts that triggers keep were restored, not counted twice.
	if n := dst.one(t, `SELECT count(*) FROM documents d WHERE clause_count <> (SELECT count(*) FROM clauses c WHERE c.document_id = d.id)`); n != "0" {
		t.Fatalf("%s documents have a wrong clause_count", n)
	}
	// The sequence continues after the restored ids.
	maxID := src.one(t, `SELECT max(id)::text FROM audit_events`)
	next := dst.one(t, `INSERT INTO audit_events (event_type) VALUES ('after_restore') RETURNING id::text`)
	if next <= maxID && len(next) <= len(maxID) {
		t.Fatalf("new audit event id %s does not follow %s", next, maxID)
	}
	if entries, _ := os.ReadDir(filepath.Join(dst.root, "tmp")); len(entries) != 0 {
		t.Fatalf("staging left behind: %v", entries)
	}

	// A backend on the restored instance serves the documents.
	api := startBackend(t, dst)
	token := login(t, api, fx.lawyerEmail, lawyerPassword)
	for _, doc := range []string{fx.docs[0], fx.docs[len(fx.docs)-1]} {
		want, err := os.ReadFile(filepath.Join(src.root, "documents", doc, "original"))
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, api, token, "/api/documents/"+doc+"/file"); !bytes.Equal(got, want) {
			t.Fatalf("document %s downloads %d bytes, want %d", doc, len(got), len(want))
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(get(t, api, token, "/api/documents/"+doc+"/clauses"), &page); err != nil {
			t.Fatal(err)
		}
		if want := src.one(t, `SELECT count(*) FROM clauses WHERE document_id = $1`, doc); fmt.Sprint(len(page.Items)) != want {
			t.Fatalf("document %s lists %d clauses, want %s", doc, len(page.Items), want)
		}
	}
	html := get(t, api, token, "/api/reports/"+fx.reports[0]+"/download?format=html")
	if !strings.Contains(string(html), fx.reports[0]) {
		t.Fatalf("report download: %q", html)
	}
}

func startBackend(t *testing.T, in *instance) string {
	t.Helper()
	rd := testenv.RedisTB(t)
	env := map[string]string{
		"DATABASE_URL": in.url, "REDIS_URL": rd.URL(0), "STORAGE_PATH": in.root, "BCRYPT_COST": "4",
		"RATE_LIMIT_LOGIN_PER_MINUTE": "1000", "RATE_LIMIT_API_PER_MINUTE": "100000",
	}
	cfg, err := config.LoadFrom(config.Backend, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := backend.New(ctx, cfg, backend.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	return "http://" + ln.Addr().String()
}

func login(t *testing.T, api, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(api+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	return tok.AccessToken
}

func get(t *testing.T, api, token, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", api+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// A backup taken while documents are uploaded and deleted restores to a
// consistent state: every document row has its file with the row's
// checksum, every report row its files, and no file lacks a row. Documents
// deleted between the snapshot and the file copy come from the trash;
// documents uploaded after the snapshot are not in the backup.
func TestBackupDuringUploadsAndDeletesRestoresConsistently(t *testing.T) {
	backupDuringWrites(t, newInstance(t), emptyInstance(t))
}

// The same with the documents in object storage (SeaweedFS): trashing is
// a server-side copy then a delete, and the restore writes into an empty
// bucket prefix.
func TestBackupDuringUploadsAndDeletesRestoresConsistentlyWithS3Storage(t *testing.T) {
	srv := testenv.S3TB(t)
	backupDuringWrites(t, newInstance(t).withS3(t, srv), emptyInstance(t).withS3(t, srv))
}

func backupDuringWrites(t *testing.T, src, dst *instance) {
	fx := populate(t, src, 6)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	// Writers that run during the whole backup.
	errs := make(chan error, 3)
	var ops [3]int
	for w := range 3 {
		go func() {
			var mine []string
			for i := 0; ctx.Err() == nil; i++ {
				text := cuad(t, 100+w*50+i)
				id, err := src.upload(ctx, fx.project, fx.lawyer, fmt.Sprintf("w%d-%d.pdf", w, i), text)
				if err == nil {
					err = src.analyse(ctx, id, text)
				}
				if err == nil && i%2 == 1 {
					_, err = src.report(ctx, id, fx.lawyer)
				}
				if err == nil && i%3 == 2 && len(mine) > 0 {
					err = src.deleteDocument(ctx, mine[0])
					mine = mine[1:]
				}
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs <- err
					return
				}
				mine = append(mine, id)
				ops[w]++
			}
			errs <- nil
		}()
	}
	time.Sleep(300 * time.Millisecond)

	// Deterministic races at the worst moment: after the snapshot, before
	// the files are read.
	deleted := fx.docs[:3]
	var late []string
	hook := func() {
		for _, id := range deleted {
			if err := src.deleteDocument(context.Background(), id); err != nil {
				t.Error(err)
			}
		}
		for i := range 2 {
			id, err := src.upload(context.Background(), fx.project, fx.lawyer, fmt.Sprintf("late-%d.pdf", i), cuad(t, 300+i))
			if err != nil {
				t.Error(err)
			}
			late = append(late, id)
		}
	}
	dest := dirDest(t)
	m, err := backup.Create(context.Background(), src.pool, src.store, dest, backup.Options{AppVersion: "test", AfterSnapshot: hook})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	t.Logf("writes during the backup: %v documents per writer", ops)
	if len(m.FileProblems) > 0 {
		t.Fatalf("file problems: %v", m.FileProblems)
	}

	if _, err := restore(dst, dest, m.ID); err != nil {
		t.Fatal(err)
	}
	ctxb := context.Background()
	files := storedFiles(t, dst.store)
	referenced := map[string]bool{}
	rows, err := dst.pool.Query(ctxb, `SELECT id::text, storage_key, sha256 FROM documents`)
	if err != nil {
		t.Fatal(err)
	}
	var restoredDocs []string
	for rows.Next() {
		var id, key, sum string
		if err := rows.Scan(&id, &key, &sum); err != nil {
			t.Fatal(err)
		}
		restoredDocs = append(restoredDocs, id)
		if files[key] != sum {
			t.Errorf("document %s: file %s has sha256 %q, the row says %q", id, key, files[key], sum)
		}
		referenced[key] = true
	}
	rows.Close()
	rows, err = dst.pool.Query(ctxb, `SELECT html_key, pdf_key FROM document_reports WHERE status = 'complete'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h, p string
		if err := rows.Scan(&h, &p); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{h, p} {
			if files[k] == "" {
				t.Errorf("report file %s is missing", k)
			}
			referenced[k] = true
		}
	}
	rows.Close()
	for k := range files {
		if !referenced[k] {
			t.Errorf("orphan file %s", k)
		}
	}
	for _, id := range deleted {
		if !slices.Contains(restoredDocs, id) {
			t.Errorf("document %s, deleted after the snapshot, is not restored", id)
		}
	}
	for _, id := range late {
		if slices.Contains(restoredDocs, id) {
			t.Errorf("document %s, uploaded after the snapshot, is restored", id)
		}
	}
	if n := int64(len(restoredDocs)); n != rowsOf(m, "documents") {
		t.Errorf("%d documents restored, the manifest says %d", n, rowsOf(m, "documents"))
	}
	if n := dst.one(t, `SELECT count(*) FROM clauses c LEFT JOIN documents d ON d.id = c.document_id WHERE d.id IS NULL`); n != "0" {
		t.Errorf("%s clauses without a document", n)
	}
}

func rowsOf(m *backup.Manifest, table string) int64 {
	for _, t := range m.Tables {
		if t.Name == table {
			return t.Rows
		}
	}
	return -1
}

// Restore refuses a database that has anything in it, and storage with
// files, and changes neither.
func TestRestoreRefusesNonEmptyTargets(t *testing.T) {
	src := newInstance(t)
	populate(t, src, 2)
	dest := dirDest(t)
	m := create(t, src, dest)

	other := newInstance(t)
	populate(t, other, 1)
	before, beforeFiles := fingerprint(t, other.pool), storedFiles(t, other.store)
	_, err := restore(other, dest, m.ID)
	if !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "the database is not empty") {
		t.Fatalf("restore into a used database: %v", err)
	}
	if d := diffMaps(before, fingerprint(t, other.pool)); len(d) > 0 {
		t.Fatalf("the refused database changed: %v", d)
	}
	if d := diffMaps(beforeFiles, storedFiles(t, other.store)); len(d) > 0 {
		t.Fatalf("the refused storage changed: %v", d)
	}

	dst := emptyInstance(t)
	if err := os.MkdirAll(filepath.Join(dst.root, "documents", "x"), 0o750); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dst.root, "documents", "x", "original")
	os.WriteFile(stray, []byte("someone's file"), 0o640)
	_, err = restore(dst, dest, m.ID)
	if !errors.Is(err, backup.ErrNotEmpty) || !strings.Contains(err.Error(), "storage directory") {
		t.Fatalf("restore into used storage: %v", err)
	}
	if b, _ := os.ReadFile(stray); string(b) != "someone's file" {
		t.Fatal("the existing file changed")
	}
	os.Remove(stray)
	os.Remove(filepath.Dir(stray))
	assertEmpty(t, dst) // and the database got nothing
}

// A backup taken at a schema this binary does not know (a newer version
// made it) is refused before anything is written.
func TestRestoreRefusesBackupFromNewerSchema(t *testing.T) {
	src := newInstance(t)
	populate(t, src, 1)
	src.exec(t, `INSERT INTO schema_migrations (name) VALUES ('9999_from_a_newer_version')`)
	dest := dirDest(t)
	m := create(t, src, dest)
	if m.Migration() != "9999_from_a_newer_version" {
		t.Fatalf("manifest migration %q", m.Migration())
	}
	dst := emptyInstance(t)
	_, err := restore(dst, dest, m.ID)
	if !errors.Is(err, backup.ErrUnknownSchema) || !strings.Contains(err.Error(), "9999_from_a_newer_version") {
		t.Fatalf("restore of a newer schema: %v", err)
	}
	assertEmpty(t, dst)
}

// A backup from an older schema is loaded at its own schema level and then
// migrated forward, so later migrations transform the restored rows.
func TestRestoreFromOlderSchemaMigratesForward(t *testing.T) {
	const later = "0003_clause_embedding_model"
	all, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(m db.Migration) bool { return m.Name == later }) {
		t.Fatalf("migration %s is gone; pick another one to test with", later)
	}
	src := emptyInstance(t)
	ctx := context.Background()
	tx, err := src.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateTx(ctx, tx, func(name string) bool { return name < later }); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if src.store, err = storage.NewFilesystem(src.root); err != nil {
		t.Fatal(err)
	}
	user := src.one(t, `INSERT INTO users (email, password_hash) VALUES ('old@example.com', 'x') RETURNING id`)
	project := src.one(t, `INSERT INTO projects (name) VALUES ('Old') RETURNING id`)
	doc, err := src.upload(ctx, project, user, "old.pdf", cuad(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	src.exec(t, `UPDATE documents SET analyzer = 'offline/v1' WHERE id = $1`, doc)
	src.exec(t, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level, embedding) VALUES ($1, 1, 'Other', 'text', 'low', $2)`,
		doc, make([]float32, 384))
	dest := dirDest(t)
	m := create(t, src, dest)
	if slices.Contains(m.Migrations, later) {
		t.Fatal("the old instance has the later migration")
	}

	dst := emptyInstance(t)
	res, err := restore(dst, dest, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Migrated, later) {
		t.Fatalf("migrated %v, want %s among them", res.Migrated, later)
	}
	if got := dst.one(t, `SELECT embedding_model FROM clauses WHERE document_id = $1`, doc); got != "offline-hash-v1" {
		t.Fatalf("the forward migration did not transform the restored clause: embedding_model %q", got)
	}
	if got := dst.one(t, `SELECT count(*) FROM schema_migrations`); got != fmt.Sprint(len(all)) {
		t.Fatalf("%s migrations recorded, want %d", got, len(all))
	}
}
