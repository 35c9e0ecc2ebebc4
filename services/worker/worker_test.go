package worker_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

func readCUAD(t *testing.T, name string) []byte {
	t.Helper()
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pdf", name+".pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const adamsGolf = "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT"

func TestPipelineTakesPDFThroughEveryStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	var mu sync.Mutex
	var stages []string
	w := e.newWorker(worker.Options{}, worker.Hooks{AfterStage: func(ctx context.Context, id, stage string) {
		mu.Lock()
		defer mu.Unlock()
		stages = append(stages, stage)
	}})
	e.run(w)
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	r := e.waitFinished(id, 2*time.Minute)
	if r.Status != worker.StatusComplete || r.Progress != 100 || r.Error != "" {
		t.Fatalf("status %s progress %d error %q", r.Status, r.Progress, r.Error)
	}
	if r.Pages != 13 || r.Attempts != 1 || r.Clauses < 10 {
		t.Errorf("pages %d attempts %d clauses %d", r.Pages, r.Attempts, r.Clauses)
	}
	if !strings.Contains(r.Text, "ENDORSEMENT AGREEMENT") {
		t.Error("extracted text not stored")
	}
	if !strings.HasPrefix(r.Analyzer, "offline") {
		t.Errorf("analyzer %q", r.Analyzer)
	}
	e.assertClausesConsistent(id)
	mu.Lock()
	got := strings.Join(stages, ",")
	mu.Unlock()
	if got != "extracting,classifying,analyzing" {
		t.Errorf("stages %s", got)
	}
	var nullEmb int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clauses WHERE document_id = $1
		AND (embedding IS NULL OR embedding_model <> $2)`, id, analysis.EmbedderVersion).Scan(&nullEmb)
	if nullEmb != 0 {
		t.Errorf("%d clauses without an offline embedding", nullEmb)
	}
}

func TestReprocessingReplacesClausesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	first := e.waitFinished(id, 2*time.Minute)
	if first.Status != worker.StatusComplete {
		t.Fatalf("first run: %s %s", first.Status, first.Error)
	}
	// Reprocess (what POST /api/documents/{id}/reprocess does), twice at once:
	// duplicate jobs for one document.
	if _, err := e.pool.Exec(context.Background(), `UPDATE documents SET pipeline_status = 'queued', progress = 0 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	e.enqueue(queue.KindDocument, id)
	e.enqueue(queue.KindDocument, id)
	second := e.waitFinished(id, 2*time.Minute)
	if second.Status != worker.StatusComplete {
		t.Fatalf("second run: %s %s", second.Status, second.Error)
	}
	waitQueueEmpty(t, e)
	if n := e.assertClausesConsistent(id); n != first.Clauses {
		t.Errorf("clauses after reprocessing: %d, before: %d", n, first.Clauses)
	}
}

func waitQueueEmpty(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := e.queue.Depth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue depth still %d", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBadFilesFailWithClearReasonsWithoutTouchingOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	enc, err := fixtures.EncryptedPDF("secret-pw")
	if err != nil {
		t.Fatal(err)
	}
	good := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	encID := e.upload("locked.pdf", "pdf", enc)
	badID := e.upload("broken.pdf", "pdf", fixtures.CorruptPDF())
	for id, want := range map[string]string{encID: extract.MsgEncryptedPDF, badID: extract.MsgCorruptPDF} {
		r := e.waitFinished(id, time.Minute)
		if r.Status != worker.StatusFailed || r.Error != want {
			t.Errorf("%s: status %s error %q, want failed %q", id, r.Status, r.Error, want)
		}
		if r.Attempts != 1 {
			t.Errorf("permanent failure retried: %d attempts", r.Attempts)
		}
	}
	if r := e.waitFinished(good, 2*time.Minute); r.Status != worker.StatusComplete {
		t.Errorf("good document: %s %s", r.Status, r.Error)
	}
}

func TestTransientFailureIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	id := e.addDocument("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	// The file vanishes (e.g. storage not yet mounted): a transient failure.
	path := filepath.Join(e.cfg.StoragePath, "documents", id, "original")
	data, _ := os.ReadFile(path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	retried := make(chan struct{})
	w := e.newWorker(worker.Options{RetryBackoff: time.Second}, worker.Hooks{})
	e.run(w)
	e.enqueue(queue.KindDocument, id)
	go func() {
		// Put the file back once the first attempt has failed.
		for e.doc(id).Attempts < 1 || e.doc(id).Status != worker.StatusQueued {
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.WriteFile(path, data, 0o644)
		once.Do(func() { close(retried) })
	}()
	select {
	case <-retried:
	case <-time.After(time.Minute):
		t.Fatal("document never went back to queued after the transient failure")
	}
	r := e.waitFinished(id, 2*time.Minute)
	// Normally 2 attempts; on a very slow machine the file may be restored
	// only after a further retry.
	if r.Status != worker.StatusComplete || r.Attempts < 2 || r.Error != "" {
		t.Errorf("status %s attempts %d error %q", r.Status, r.Attempts, r.Error)
	}
}

func TestTransientFailureGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	id := e.addDocument("gone.pdf", "pdf", []byte("%PDF-1.4"))
	if err := os.Remove(filepath.Join(e.cfg.StoragePath, "documents", id, "original")); err != nil {
		t.Fatal(err)
	}
	e.run(e.newWorker(worker.Options{MaxAttempts: 3, RetryBackoff: 20 * time.Millisecond}, worker.Hooks{}))
	e.enqueue(queue.KindDocument, id)
	r := e.waitFinished(id, time.Minute)
	if r.Status != worker.StatusFailed || r.Attempts != 3 || !strings.Contains(r.Error, "gave up after 3 attempts") {
		t.Errorf("status %s attempts %d error %q", r.Status, r.Attempts, r.Error)
	}
}

// A retry due at once must not meet its own attempt's lock: re-enqueued
// while the failing attempt still held the document, it was dropped as a
// duplicate and the document waited for the sweep (a minute here).
func TestImmediateRetriesAreNotDroppedAsDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*time.Minute)
	e.cfg.WorkerConcurrency = 4
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = e.addDocument(fmt.Sprintf("gone-%d.pdf", i), "pdf", []byte("%PDF-1.4"))
		if err := os.Remove(filepath.Join(e.cfg.StoragePath, "documents", ids[i], "original")); err != nil {
			t.Fatal(err)
		}
	}
	e.run(e.newWorker(worker.Options{MaxAttempts: 4, RetryBackoff: time.Nanosecond}, worker.Hooks{}))
	for _, id := range ids {
		e.enqueue(queue.KindDocument, id)
	}
	for _, id := range ids {
		// Well under the sweep's minute: every retry came from its re-enqueue.
		if r := e.waitFinished(id, 30*time.Second); r.Status != worker.StatusFailed || r.Attempts != 4 {
			t.Errorf("%s: status %s attempts %d error %q", id, r.Status, r.Attempts, r.Error)
		}
	}
}

func TestSweepReenqueuesDocumentsWhoseJobWasLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	id := e.addDocument("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	// Redis lost the job: nothing on the queue, the row says queued.
	if _, err := e.pool.Exec(context.Background(), `UPDATE documents SET enqueued_at = now() - interval '1 hour' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	e.run(e.newWorker(worker.Options{SweepInterval: 200 * time.Millisecond}, worker.Hooks{}))
	if r := e.waitFinished(id, 2*time.Minute); r.Status != worker.StatusComplete {
		t.Errorf("status %s error %q", r.Status, r.Error)
	}
	// A report request whose job was lost is picked up too.
	var reportID string
	if err := e.pool.QueryRow(context.Background(), `INSERT INTO document_reports (document_id, created_at)
		VALUES ($1, now() - interval '1 hour') RETURNING id`, id).Scan(&reportID); err != nil {
		t.Fatal(err)
	}
	if html := waitReportHTML(t, e, reportID); !strings.Contains(html, "adams.pdf") {
		t.Error("swept report lacks the document name")
	}
}

func TestShutdownHandsBackTheJobAndAnotherWorkerFinishesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2*time.Second)
	// The first worker stalls after extracting until its job context ends.
	stall := worker.Hooks{AfterStage: func(ctx context.Context, id, stage string) {
		if stage == worker.StatusExtracting {
			<-ctx.Done()
		}
	}}
	w1 := e.newWorker(worker.Options{ShutdownGrace: 300 * time.Millisecond, Consumer: "w1"}, stall)
	stop1 := e.run(w1)
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	e.waitStatus(id, worker.StatusClassifying, time.Minute)
	stop1() // SIGTERM: the grace period passes, the job is handed back
	if r := e.doc(id); r.Status != worker.StatusQueued {
		t.Fatalf("after shutdown: %s", r.Status)
	}
	// The delivery was not acked: it is still pending in the consumer group.
	pending, err := e.rdb.XPending(context.Background(), e.stream, queue.DefaultGroup).Result()
	if err != nil || pending.Count < 1 {
		t.Fatalf("pending deliveries after hand-back: %v (%v), want the unacked job", pending, err)
	}
	e.run(e.newWorker(worker.Options{Consumer: "w2"}, worker.Hooks{}))
	r := e.waitFinished(id, 2*time.Minute)
	if r.Status != worker.StatusComplete || r.Attempts != 2 {
		t.Errorf("status %s attempts %d", r.Status, r.Attempts)
	}
	e.assertClausesConsistent(id)
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	w := e.newWorker(worker.Options{}, worker.Hooks{})
	e.run(w)
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	e.waitFinished(id, 2*time.Minute)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("readyz %d %s", code, body)
	}
	_, body := get("/metrics")
	for _, m := range []string{"cl_worker_queue_depth", `cl_worker_stage_duration_seconds_count{stage="extracting"} 1`,
		`cl_worker_jobs_total{job="document",result="complete"} 1`, "cl_worker_failures_total"} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

func TestReadinessFailsWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer dead.Close()
	w, err := worker.New(e.cfg, worker.Deps{Pool: e.pool, Redis: dead})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"redis":"unreachable"`) {
		t.Errorf("readyz %d %s", rec.Code, rec.Body.String())
	}
}

// --- SIGKILL: the worker runs as a child process (this test binary re-executed).

const childEnv = "CL_WORKER_TEST_CHILD"

// runChild is a worker process for TestSIGKILL: configured from the
// environment, optionally stalling after extraction so it can be killed
// mid-document.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pool, err := pgxpool.New(ctx, os.Getenv("CL_TEST_DB"))
	if err != nil {
		return 3
	}
	opt, _ := redis.ParseURL(os.Getenv("CL_TEST_REDIS"))
	rdb := redis.NewClient(opt)
	vis, _ := time.ParseDuration(os.Getenv("CL_TEST_VISIBILITY"))
	cfg := &config.Config{StoragePath: os.Getenv("CL_TEST_STORAGE"), WorkerConcurrency: 1, WorkerVisibilityTimeout: vis}
	var hooks worker.Hooks
	if os.Getenv("CL_TEST_STALL") != "" {
		hooks.AfterStage = func(ctx context.Context, id, stage string) {
			if stage == worker.StatusExtracting {
				select {} // wait for SIGKILL
			}
		}
	}
	w, err := worker.New(cfg, worker.Deps{Pool: pool, Redis: rdb, Hooks: hooks,
		Queue:   queue.New(rdb, queue.Options{Stream: os.Getenv("CL_TEST_STREAM"), VisibilityTimeout: vis}),
		Options: worker.Options{Consumer: os.Getenv("CL_TEST_CONSUMER"), PollBlock: 200 * time.Millisecond}})
	if err != nil {
		return 4
	}
	if err := w.Run(ctx); err != nil {
		return 5
	}
	return 0
}

func startChild(t *testing.T, e *env, consumer string, stall bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CL_TEST_DB="+e.dbURL, "CL_TEST_REDIS="+rds.URL(0),
		"CL_TEST_STREAM="+e.stream, "CL_TEST_STORAGE="+e.cfg.StoragePath, "CL_TEST_CONSUMER="+consumer,
		"CL_TEST_VISIBILITY="+e.cfg.WorkerVisibilityTimeout.String())
	if stall {
		cmd.Env = append(cmd.Env, "CL_TEST_STALL=1")
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func TestSIGKILLMidDocumentCompletesOnceOnAnotherWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2*time.Second)
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	first := startChild(t, e, "doomed", true)
	e.waitStatus(id, worker.StatusClassifying, time.Minute) // extracted, now stalled
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if r := e.doc(id); r.Status != worker.StatusClassifying || r.Clauses != 0 {
		t.Fatalf("after kill: %s with %d clauses", r.Status, r.Clauses)
	}
	startChild(t, e, "survivor", false)
	r := e.waitFinished(id, 2*time.Minute)
	if r.Status != worker.StatusComplete || r.Attempts != 2 {
		t.Fatalf("status %s attempts %d error %q", r.Status, r.Attempts, r.Error)
	}
	n := e.assertClausesConsistent(id)
	waitQueueEmpty(t, e)
	// Once: no further run happens (it would bump attempts) and the clause set is stable.
	time.Sleep(3 * e.cfg.WorkerVisibilityTimeout)
	if r2 := e.doc(id); r2.Attempts != 2 || r2.Clauses != n || r2.Status != worker.StatusComplete {
		t.Errorf("after settling: attempts %d clauses %d (was %d) status %s", r2.Attempts, r2.Clauses, n, r2.Status)
	}
}

func TestReportJobWritesHTMLAndPDF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	id := e.upload("Adams Endorsement.pdf", "pdf", readCUAD(t, adamsGolf))
	if r := e.waitFinished(id, 2*time.Minute); r.Status != worker.StatusComplete {
		t.Fatalf("%s %s", r.Status, r.Error)
	}
	ctx := context.Background()
	var clauseID, category string
	if err := e.pool.QueryRow(ctx, `SELECT id, category FROM clauses WHERE document_id = $1 ORDER BY ordinal LIMIT 1`, id).Scan(&clauseID, &category); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO clause_decisions (clause_id, decision, comment, decided_by) VALUES ($1, 'reject', 'Too broad.', $2)`,
		clauseID, e.userID); err != nil {
		t.Fatal(err)
	}
	var reportID string
	if err := e.pool.QueryRow(ctx, `INSERT INTO document_reports (document_id, requested_by) VALUES ($1, $2) RETURNING id`, id, e.userID).Scan(&reportID); err != nil {
		t.Fatal(err)
	}
	e.enqueue(queue.KindReport, reportID)
	html := waitReportHTML(t, e, reportID)
	if !strings.Contains(html, "analyzed clauses") || !strings.Contains(html, "Summary by the built-in analyzer") {
		t.Error("HTML lacks the built-in summary")
	}
	deadline := time.Now().Add(time.Minute)
	var status string
	var htmlKey, pdfKey *string
	for {
		if err := e.pool.QueryRow(ctx, `SELECT status, html_key, pdf_key FROM document_reports WHERE id = $1`, reportID).Scan(&status, &htmlKey, &pdfKey); err != nil {
			t.Fatal(err)
		}
		if status == "complete" || status == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status != "complete" || htmlKey == nil || pdfKey == nil || *pdfKey != "reports/"+reportID+".pdf" {
		t.Fatalf("report %s html=%v pdf=%v", status, htmlKey, pdfKey)
	}
	for _, want := range []string{"Adams Endorsement.pdf", "Too broad.", "Lee Lawyer", "<svg"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	out, err := exec.Command("pdftotext", filepath.Join(e.cfg.StoragePath, *pdfKey), "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	for _, want := range []string{"Adams Endorsement.pdf", category, "Too broad."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
}

// waitReportHTML waits for the report to complete and returns its HTML.
func waitReportHTML(t *testing.T, e *env, reportID string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var status string
		var key *string
		if err := e.pool.QueryRow(context.Background(), `SELECT status, html_key FROM document_reports WHERE id = $1`, reportID).Scan(&status, &key); err != nil {
			t.Fatal(err)
		}
		if status == "complete" && key != nil {
			b, err := os.ReadFile(filepath.Join(e.cfg.StoragePath, *key))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		if status == "failed" || time.Now().After(deadline) {
			t.Fatalf("report %s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
