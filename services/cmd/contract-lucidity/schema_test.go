package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// TestServicesStartWithoutSchemaChanges starts backend and worker on a
// migrated database and has the worker process a document, with the
// server logging every DDL statement of that database (log_statement=ddl,
// which logs a statement when it arrives, even if it then fails or does
// nothing). Nothing may be logged: schema changes belong to migrate.
func TestServicesStartWithoutSchemaChanges(t *testing.T) {
	pg := testenv.PostgresTB(t)
	rd := testenv.RedisTB(t)
	dbURL := pg.NewDatabase(t)
	storagePath := t.TempDir()
	ports := make([]int, 2)
	for i := range ports {
		p, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	for k, v := range map[string]string{
		"ENVIRONMENT": "development", "DATABASE_URL": dbURL, "REDIS_URL": rd.URL(0), "STORAGE_PATH": storagePath,
		"BACKEND_ADDR": fmt.Sprintf("127.0.0.1:%d", ports[0]), "WORKER_METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"BCRYPT_COST": "4", "LOG_LEVEL": "error",
		"INITIAL_ADMIN_EMAIL": "admin@example.com", "INITIAL_ADMIN_PASSWORD": "Initial-Passw0rd-1",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := runMigrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	dbName := conn.Config().Database
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{dbName}.Sanitize()+" SET log_statement = 'ddl'"); err != nil {
		t.Fatal(err)
	}
	logStart := fileSize(t, pg.LogPath())

	svcCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- runBackend(svcCtx, nil) }()
	go func() { done <- runWorker(svcCtx, nil) }()
	for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[0]), fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1])} {
		waitOK(t, u, done)
	}

	// A document through the whole pipeline, clauses and embeddings stored.
	var docID string
	if err := conn.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
		SELECT id, 'adams.pdf', 'pdf', 1, 'x', 'pending' FROM projects LIMIT 1 RETURNING id`).Scan(&docID); err != nil {
		t.Fatal(err)
	}
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(filepath.Join(dir, "pdf", "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	key := storage.DocumentKey(docID)
	if err := os.MkdirAll(filepath.Dir(filepath.Join(storagePath, key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(storagePath, key), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE documents SET storage_key = $2 WHERE id = $1`, docID, key); err != nil {
		t.Fatal(err)
	}
	ropt, _ := redis.ParseURL(rd.URL(0))
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := queue.New(rdb, queue.Options{}).Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: docID}); err != nil {
		t.Fatal(err)
	}
	for status := ""; status != "complete"; {
		if err := conn.QueryRow(ctx, `SELECT pipeline_status FROM documents WHERE id = $1`, docID).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "failed" || ctx.Err() != nil {
			t.Fatalf("document %s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("service stopped with %v", err)
		}
	}
	if ddl := loggedStatements(t, pg.LogPath(), logStart); len(ddl) > 0 {
		t.Fatalf("backend or worker issued DDL at start:\n%s", strings.Join(ddl, "\n"))
	}

	// The probe: the same log does show DDL on this database.
	probe, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	if _, err := probe.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text)`); err != nil {
		t.Fatal(err)
	}
	if ddl := loggedStatements(t, pg.LogPath(), logStart); len(ddl) != 1 || !strings.Contains(ddl[0], "schema_migrations") {
		t.Fatalf("the DDL log does not show a DDL statement: %q", ddl)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// loggedStatements returns the statements PostgreSQL logged after offset.
func loggedStatements(t *testing.T, path string, offset int64) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "LOG:  statement: ") || strings.Contains(l, "LOG:  execute ") {
			out = append(out, l)
		}
	}
	return out
}

func waitOK(t *testing.T, u string, done <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("a service exited early: %v", err)
		default:
		}
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s never answered 200", u)
}
