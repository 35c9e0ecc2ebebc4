package worker_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

var (
	pg  *testenv.Postgres
	rds *testenv.Redis
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	var err error
	if pg, err = testenv.StartPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if rds, err = testenv.StartRedis(); err != nil {
		pg.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rds.Stop()
	pg.Stop()
	os.Exit(code)
}

// env is one test's world: a fresh database, a queue stream of its own, a
// storage directory, a user and a project.
type env struct {
	t         testing.TB
	dbURL     string
	pool      *pgxpool.Pool // the test's own view of the database
	wpool     *pgxpool.Pool // the workers' pool when not pool
	rdb       *redis.Client
	stream    string
	queue     *queue.Queue
	cfg       *config.Config
	projectID string
	userID    string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newEnv(t testing.TB, visibility time.Duration) *env {
	t.Helper()
	return newEnvOn(t, pg, visibility)
}

// newEnvOn is newEnv on a database of the given server (a test that stops
// its server needs one of its own).
func newEnvOn(t testing.TB, server *testenv.Postgres, visibility time.Duration) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, dbURL: server.NewDatabase(t), stream: "t:jobs:" + randHex(4)}
	var err error
	if e.pool, err = pgxpool.New(ctx, e.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	if _, err := db.Migrate(ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseURL(rds.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	e.rdb = redis.NewClient(opt)
	t.Cleanup(func() { e.rdb.Close() })
	e.queue = queue.New(e.rdb, queue.Options{Stream: e.stream, VisibilityTimeout: visibility})
	e.cfg = &config.Config{
		StoragePath:             t.TempDir(),
		WorkerConcurrency:       2,
		WorkerVisibilityTimeout: visibility,
		AIAllowPrivateEndpoints: true, // the fake providers listen on loopback
	}
	if err := e.pool.QueryRow(ctx, `INSERT INTO users (email, name, password_hash, role)
		VALUES ('lawyer-'||$1||'@example.com', 'Lee Lawyer', 'x', 'user') RETURNING id`, randHex(4)).Scan(&e.userID); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `INSERT INTO projects (name, created_by) VALUES ('p-'||$1, $2) RETURNING id`,
		randHex(4), e.userID).Scan(&e.projectID); err != nil {
		t.Fatal(err)
	}
	return e
}

// newWorker builds a worker on the env; opts and hooks may be zero.
func (e *env) newWorker(opts worker.Options, hooks worker.Hooks) *worker.Worker {
	e.t.Helper()
	if opts.RetryBackoff == 0 {
		opts.RetryBackoff = 50 * time.Millisecond
	}
	if opts.PollBlock == 0 {
		opts.PollBlock = 200 * time.Millisecond
	}
	pool := e.pool
	if e.wpool != nil {
		pool = e.wpool
	}
	w, err := worker.New(e.cfg, worker.Deps{
		Pool: pool, Redis: e.rdb, Queue: e.queue, Options: opts, Hooks: hooks,
		Logger: slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// run starts w until the test ends.
func (e *env) run(w *worker.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop = func() { cancel(); <-done }
	e.t.Cleanup(stop)
	return stop
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// addDocument stores data as an uploaded document (as the backend does)
// and returns its id. It does not enqueue.
func (e *env) addDocument(name, fileType string, data []byte) string {
	e.t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(data)
	var id string
	if err := e.pool.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key, uploaded_by)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id`,
		e.projectID, name, fileType, len(data), hex.EncodeToString(sum[:]), e.userID).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	key := "documents/" + id + "/original"
	path := filepath.Join(e.cfg.StoragePath, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE documents SET storage_key = $2 WHERE id = $1`, id, key); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) enqueue(kind, id string) {
	e.t.Helper()
	if err := e.queue.Enqueue(context.Background(), queue.Job{Kind: kind, ID: id}); err != nil {
		e.t.Fatal(err)
	}
}

// upload = addDocument + enqueue.
func (e *env) upload(name, fileType string, data []byte) string {
	id := e.addDocument(name, fileType, data)
	e.enqueue(queue.KindDocument, id)
	return id
}

type docRow struct {
	Status, Error, Analyzer string
	Progress, Attempts      int
	Pages, Clauses, Tokens  int
	Text                    string
	Facts                   map[string]any
}

func (e *env) doc(id string) docRow {
	e.t.Helper()
	var r docRow
	var errMsg, text *string
	var pages *int
	err := e.pool.QueryRow(context.Background(), `SELECT pipeline_status, coalesce(error_message, ''), analyzer, progress, attempts,
		page_count, (SELECT count(*) FROM clauses c WHERE c.document_id = d.id), tokens_used, extracted_text, facts
		FROM documents d WHERE id = $1`, id).
		Scan(&r.Status, &errMsg, &r.Analyzer, &r.Progress, &r.Attempts, &pages, &r.Clauses, &r.Tokens, &text, &r.Facts)
	if err != nil {
		e.t.Fatal(err)
	}
	if errMsg != nil {
		r.Error = *errMsg
	}
	if pages != nil {
		r.Pages = *pages
	}
	if text != nil {
		r.Text = *text
	}
	return r
}

// waitFinished polls until the document is complete or failed.
func (e *env) waitFinished(id string, timeout time.Duration) docRow {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.doc(id)
		if r.Status == worker.StatusComplete || r.Status == worker.StatusFailed {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("document %s still %s (%d%%) after %s", id, r.Status, r.Progress, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) waitStatus(id, status string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for e.doc(id).Status != status {
		if time.Now().After(deadline) {
			e.t.Fatalf("document %s never reached %s (now %s)", id, status, e.doc(id).Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clauseCategories lists the categories of a document's clauses.
func (e *env) clauseCategories(id string) map[string]int {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT category FROM clauses WHERE document_id = $1`, id)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			e.t.Fatal(err)
		}
		out[c]++
	}
	return out
}

// assertClausesConsistent checks ordinals are 1..n without gaps or duplicates.
func (e *env) assertClausesConsistent(id string) int {
	e.t.Helper()
	var n, distinct, maxOrd int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT ordinal), coalesce(max(ordinal), 0)
		FROM clauses WHERE document_id = $1`, id).Scan(&n, &distinct, &maxOrd); err != nil {
		e.t.Fatal(err)
	}
	if n != distinct || n != maxOrd {
		e.t.Errorf("document %s: %d clauses, %d distinct ordinals, max ordinal %d", id, n, distinct, maxOrd)
	}
	return n
}
