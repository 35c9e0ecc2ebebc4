package worker_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// Jobs taken while PostgreSQL is down are not acked: the worker keeps them
// and runs them once the database is back. The visibility timeout is 10
// minutes (and the sweep only re-enqueues documents idle that long, reports
// twice that), so completion within a minute of the restart can only come
// from the worker holding on to the jobs.
func TestJobTakenDuringDatabaseOutageCompletesSoonAfterItReturns(t *testing.T) {
	t.Parallel()
	server := testenv.PostgresTB(t) // its own: this test stops it
	e := newEnvOn(t, server, 10*time.Minute)
	e.cfg.WorkerConcurrency = 3 // a consumer for each of the three jobs
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	// The worker is up and working before the outage.
	warm := e.upload("warm-up.docx", "docx", docx)
	if r := e.waitFinished(warm, time.Minute); r.Status != worker.StatusComplete {
		t.Fatalf("warm-up document: %s %s", r.Status, r.Error)
	}
	id := e.addDocument("msa.docx", "docx", docx)
	other := e.addDocument("msa-2.docx", "docx", docx)
	ctx := context.Background()
	var report string
	if err := e.pool.QueryRow(ctx, `INSERT INTO document_reports (document_id) VALUES ($1) RETURNING id`, warm).Scan(&report); err != nil {
		t.Fatal(err)
	}

	server.Shutdown()
	e.enqueue(queue.KindDocument, id)
	e.enqueue(queue.KindReport, report)
	e.enqueue(queue.KindDocument, other)
	// Every job delivered to the worker (pending) or already gone (acked).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, err := e.rdb.XInfoGroups(ctx, e.stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(info) == 1 && info[0].Lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not take the jobs: %+v", info)
		}
	}
	time.Sleep(2 * time.Second) // the worker's attempts meet the outage
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{id, other} {
		r := e.waitFinished(doc, time.Minute)
		if r.Status != worker.StatusComplete || r.Attempts != 1 {
			t.Fatalf("document %s: %s after %d attempts (%s)", doc, r.Status, r.Attempts, r.Error)
		}
		e.assertClausesConsistent(doc)
	}
	if html := waitReportHTML(t, e, report); !strings.Contains(html, "warm-up.docx") {
		t.Error("the report lacks the document name")
	}
	waitQueueEmpty(t, e)
}

// The database goes away in the middle of a document: the job is kept and
// runs again when it is back, and the document ends complete once.
func TestDatabaseOutageMidDocumentCompletesSoonAfterItReturns(t *testing.T) {
	t.Parallel()
	server := testenv.PostgresTB(t)
	e := newEnvOn(t, server, 10*time.Minute)
	extracted, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.run(e.newWorker(worker.Options{}, worker.Hooks{AfterStage: func(ctx context.Context, id, stage string) {
		if stage == worker.StatusExtracting {
			once.Do(func() { close(extracted); <-resume })
		}
	}}))
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	id := e.upload("msa.docx", "docx", docx)
	<-extracted
	server.Shutdown()
	close(resume) // the next stage meets the outage
	time.Sleep(2 * time.Second)
	if err := server.Restart(); err != nil {
		t.Fatal(err)
	}
	r := e.waitFinished(id, time.Minute)
	if r.Status != worker.StatusComplete || r.Attempts > 2 {
		t.Fatalf("document %s: %s after %d attempts (%s)", id, r.Status, r.Attempts, r.Error)
	}
	e.assertClausesConsistent(id)
	waitQueueEmpty(t, e)
}
