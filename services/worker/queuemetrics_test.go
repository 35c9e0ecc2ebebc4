package worker_test

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// gauge reads one series of a worker's /metrics; -1 when absent.
func gauge(t *testing.T, w *worker.Worker, name string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	m := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// Two workers, one job each in progress and more waiting: both report the
// queue's numbers (what KEDA or an HPA scales on), not their own share,
// and the numbers follow the jobs to zero.
func TestQueueGaugesAreTheQueuesWithSeveralWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.cfg.WorkerConcurrency = 1
	release := make(chan struct{})
	hold := worker.Hooks{AfterStage: func(ctx context.Context, id, stage string) {
		if stage == worker.StatusExtracting {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	}}
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = e.addDocument("msa.docx", "docx", docx)
		e.enqueue(queue.KindDocument, ids[i])
	}
	a, b := e.newWorker(worker.Options{Consumer: "a"}, hold), e.newWorker(worker.Options{Consumer: "b"}, hold)
	for _, w := range []*worker.Worker{a, b} {
		if got := gauge(t, w, "cl_queue_pending_jobs"); got != 5 {
			t.Fatalf("before any worker runs: pending %v, want 5", got)
		}
	}
	e.run(a)
	e.run(b)
	deadline := time.Now().Add(time.Minute)
	for gauge(t, a, "cl_queue_inflight_jobs") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("in flight %v, want 2", gauge(t, a, "cl_queue_inflight_jobs"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range []*worker.Worker{a, b} {
		if p, f, d := gauge(t, w, "cl_queue_pending_jobs"), gauge(t, w, "cl_queue_inflight_jobs"), gauge(t, w, "cl_worker_queue_depth"); p != 3 || f != 2 || d != 5 {
			t.Fatalf("pending %v, in flight %v, depth %v; want 3, 2, 5 on every worker", p, f, d)
		}
	}
	close(release)
	for _, id := range ids {
		e.waitFinished(id, 2*time.Minute)
	}
	waitQueueEmpty(t, e)
	if p, f := gauge(t, b, "cl_queue_pending_jobs"), gauge(t, b, "cl_queue_inflight_jobs"); p != 0 || f != 0 {
		t.Fatalf("after the batch: pending %v, in flight %v", p, f)
	}
}
