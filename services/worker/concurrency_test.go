package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// Every job holds a connection for its advisory lock and needs others for
// its work: with more consumers than the pool has connections (the CRD
// allows 64, db.Open gives 10) the jobs used to wait for each other forever.
func TestConcurrency32CompletesABatchOnTheServicePool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*time.Minute)
	pool, err := db.Open(context.Background(), &config.Config{DatabaseURL: e.dbURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if max := pool.Config().MaxConns; max >= 32 {
		t.Fatalf("the service pool has %d connections; the test needs fewer than the concurrency", max)
	}
	e.wpool = pool
	e.cfg.WorkerConcurrency = 32
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 48)
	for i := range ids {
		ids[i] = e.addDocument("msa.docx", "docx", docx)
	}
	for _, id := range ids { // all at once, so the 32 consumers start together
		e.enqueue(queue.KindDocument, id)
	}
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	for _, id := range ids {
		r := e.waitFinished(id, 3*time.Minute)
		if r.Status != worker.StatusComplete || r.Attempts != 1 {
			t.Fatalf("document %s: %s after %d attempts (%s)", id, r.Status, r.Attempts, r.Error)
		}
		e.assertClausesConsistent(id)
	}
	waitQueueEmpty(t, e)
}

// A job stuck past WORKER_JOB_TIMEOUT ends and its document is retried; the
// visibility timeout is long, so only the deadline can explain the retry.
func TestJobDeadlineEndsAStuckJobAndTheDocumentIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 10*time.Minute)
	var stalled atomic.Bool
	stall := worker.Hooks{AfterStage: func(ctx context.Context, id, stage string) {
		if stage == worker.StatusExtracting && stalled.CompareAndSwap(false, true) {
			<-ctx.Done() // a hung provider call or query
		}
	}}
	e.run(e.newWorker(worker.Options{JobTimeout: 5 * time.Second}, stall))
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	id := e.upload("msa.docx", "docx", docx)
	r := e.waitFinished(id, time.Minute)
	if r.Status != worker.StatusComplete || r.Attempts != 2 || !stalled.Load() {
		t.Fatalf("status %s attempts %d error %q stalled %v", r.Status, r.Attempts, r.Error, stalled.Load())
	}
	e.assertClausesConsistent(id)
}
