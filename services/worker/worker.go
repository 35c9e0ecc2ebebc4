// Package worker is the document pipeline: it consumes jobs from the queue
// (services/internal/queue) and takes each document from queued through
// extracting, classifying, analyzing and embedding to complete or failed,
// writing its progress to the documents row; it also renders reports.
//
// Delivery is at-least-once and every stage is idempotent: a document's
// clauses are replaced in one transaction together with its completion, so
// a worker killed at any point leaves either the previous result or the new
// one, never a mixture or duplicates. A PostgreSQL advisory lock (held on
// one connection for the duration of a job) keeps two workers from working
// on the same document at once; it is released by the server when a killed
// worker's connection drops. Lock connections come from a pool of their
// own, one per consumer, so a job holding its lock can always get a
// connection for its work, whatever WORKER_CONCURRENCY is.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
)

// Options tune the worker; zero values take defaults. The configuration
// contract (WORKER_CONCURRENCY, WORKER_VISIBILITY_TIMEOUT,
// WORKER_METRICS_ADDR, STORAGE_PATH, ENCRYPTION_KEY) comes from config.Config.
type Options struct {
	// MaxAttempts before a document failing transiently is failed for good. Default 5.
	MaxAttempts int
	// RetryBackoff is the first retry delay, doubled per attempt up to 5m. Default 5s.
	RetryBackoff time.Duration
	// ShutdownGrace is how long in-flight jobs may run after the context
	// given to Run is cancelled before they are handed back. Default 25s.
	ShutdownGrace time.Duration
	// SweepInterval is the period of the re-enqueue sweep. Default: a third
	// of the visibility timeout, at most 1m.
	SweepInterval time.Duration
	// Heartbeat is the period of queue.Extend while a job runs. Default: a
	// third of the visibility timeout.
	Heartbeat time.Duration
	// PollBlock is how long one queue read blocks. Default 2s.
	PollBlock time.Duration
	// RetentionInterval is the period of Retention. Default 1h.
	RetentionInterval time.Duration
	// RetentionBatch is how many rows one retention DELETE removes. Default 1000.
	RetentionBatch int
	// JobTimeout bounds one run of a job; a document that takes longer is
	// retried (and failed after MaxAttempts). Default cfg.WorkerJobTimeout,
	// else 1h.
	JobTimeout time.Duration
	// Consumer names this worker in the consumer group. Default hostname-pid.
	Consumer string
	Extract  extract.Options
}

// Hooks let tests observe and slow the pipeline. Nil hooks do nothing.
type Hooks struct {
	// AfterStage runs after a stage's status was written, before the next.
	AfterStage func(ctx context.Context, documentID, stage string)
}

// Deps are the worker's collaborators. Pool, Redis are required.
type Deps struct {
	Pool   *pgxpool.Pool
	Redis  *redis.Client
	Queue  *queue.Queue // default: queue.New(Redis, visibility timeout from cfg)
	Logger *slog.Logger // default: slog.Default()
	// Offline is the built-in analyzer; default: the one in services/internal/analysis.
	Offline Analyzer
	// HTTPClient is used for AI providers; default: an egress-guarded
	// client (cfg.EgressPolicy) with timeouts.
	HTTPClient *http.Client
	Hooks      Hooks
	Options    Options
}

// Worker processes jobs. Create it with New and start it with Run.
type Worker struct {
	cfg       *config.Config
	pool      *pgxpool.Pool
	locks     *pgxpool.Pool   // job advisory locks only; set by Run
	runCtx    context.Context // ends when Run's grace period does; set by Run
	rdb       *redis.Client
	queue     *queue.Queue
	log       *slog.Logger
	offline   Analyzer
	http      *http.Client
	hooks     Hooks
	opts      Options
	extractor *extract.Extractor
	store     *storage.Store
	metrics   *metrics
	ready     chan struct{}
	retries   sync.WaitGroup
}

// New builds a worker from the configuration and its dependencies.
func New(cfg *config.Config, deps Deps) (*Worker, error) {
	if deps.Pool == nil || deps.Redis == nil {
		return nil, errors.New("worker: Pool and Redis are required")
	}
	vis := cfg.WorkerVisibilityTimeout
	if vis <= 0 {
		vis = queue.DefaultVisibilityTimeout
	}
	o := deps.Options
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 5 * time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 25 * time.Second
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = min(vis/3, time.Minute)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = max(vis/3, 100*time.Millisecond)
	}
	if o.PollBlock <= 0 {
		o.PollBlock = 2 * time.Second
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = time.Hour
	}
	if o.RetentionBatch <= 0 {
		o.RetentionBatch = 1000
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = cfg.WorkerJobTimeout
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = time.Hour
	}
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	w := &Worker{
		cfg: cfg, pool: deps.Pool, rdb: deps.Redis, queue: deps.Queue, log: deps.Logger,
		offline: deps.Offline, http: deps.HTTPClient, hooks: deps.Hooks, opts: o,
		extractor: extract.New(o.Extract), metrics: newMetrics(), ready: make(chan struct{}),
	}
	store, err := storage.New(cfg.StoragePath)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.store = store
	if w.queue == nil {
		w.queue = queue.New(deps.Redis, queue.Options{VisibilityTimeout: vis})
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.offline == nil {
		w.offline = NewOfflineAnalyzer()
	}
	if w.http == nil {
		// Provider base URLs are admin input: connect only where the
		// egress policy allows (AI_ALLOW_PRIVATE_ENDPOINTS, ...).
		w.http = egress.NewClient(cfg.EgressPolicy(), 2*time.Minute)
	}
	return w, nil
}

func (w *Worker) visibility() time.Duration { return w.queue.VisibilityTimeout() }

// Run checks the schema (db.Verify), consumes jobs with
// cfg.WorkerConcurrency goroutines, runs the sweep, the retention of old
// rows and the queue-depth gauge, and serves /healthz, /readyz and /metrics
// on cfg.WorkerMetricsAddr (unless empty). When ctx is cancelled it stops
// taking jobs, gives in-flight jobs Options.ShutdownGrace to finish, hands
// back the rest, and returns.
func (w *Worker) Run(ctx context.Context) error {
	// The worker never changes the schema: `contract-lucidity migrate` does.
	if err := db.Verify(ctx, w.pool); err != nil {
		return err
	}
	var srv *http.Server
	if addr := w.cfg.WorkerMetricsAddr; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on WORKER_METRICS_ADDR %s: %w", addr, err)
		}
		srv = &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				w.log.Error("metrics server stopped", "error", err)
			}
		}()
		w.log.Info("worker metrics listening", "addr", ln.Addr().String())
	}
	// Jobs run on a context that outlives ctx by the grace period.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	go func() {
		<-ctx.Done()
		select {
		case <-time.After(w.opts.ShutdownGrace):
			cancelJobs()
		case <-jobCtx.Done():
		}
	}()

	n := max(w.cfg.WorkerConcurrency, 1)
	// Each consumer holds at most one lock connection, so with n of them
	// acquiring one never waits and never competes with the jobs' work.
	lc := w.pool.Config()
	lc.MaxConns, lc.MinConns = int32(n), 0
	locks, err := pgxpool.NewWithConfig(ctx, lc)
	if err != nil {
		return fmt.Errorf("job lock pool: %w", err)
	}
	defer locks.Close()
	w.locks, w.runCtx = locks, jobCtx
	// Only read which search path the migrations enabled.
	if vec, err := search.HasVector(ctx, w.pool); err != nil {
		w.log.Warn("cannot tell whether pgvector is in use", "error", err)
	} else {
		w.log.Info("similarity search backend", "pgvector", vec)
	}
	w.log.Info("worker started", "concurrency", n, "consumer", w.opts.Consumer, "visibility_timeout", w.visibility().String(),
		"job_timeout", w.opts.JobTimeout.String())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.consume(ctx, jobCtx, fmt.Sprintf("%s-%d", w.opts.Consumer, i))
		}()
	}
	wg.Add(4)
	go func() { defer wg.Done(); w.sweepLoop(ctx) }()
	go func() { defer wg.Done(); w.retentionLoop(ctx) }()
	go func() { defer wg.Done(); w.depthLoop(ctx) }()
	go func() { defer wg.Done(); w.trashLoop(ctx) }()
	close(w.ready)
	wg.Wait()
	cancelJobs()
	w.retries.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	w.log.Info("worker stopped")
	return nil
}

// consume takes jobs until ctx is cancelled; each job runs on jobCtx.
func (w *Worker) consume(ctx, jobCtx context.Context, consumer string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		d, err := w.queue.Next(ctx, consumer, w.opts.PollBlock)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("queue read failed", "error", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if d == nil {
			continue
		}
		w.handle(jobCtx, d)
	}
}

// handle runs one delivery with a heartbeat.
func (w *Worker) handle(ctx context.Context, d *queue.Delivery) {
	w.metrics.inFlight.Inc()
	defer w.metrics.inFlight.Dec()
	hbCtx, stopHB := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Add(1)
	go func() { defer hb.Done(); w.heartbeat(hbCtx, d) }()
	log := w.log.With("job", d.Job.Kind, "id", d.Job.ID, "deliveries", d.Deliveries)
	res, err := w.run(ctx, d)
	for reruns := 0; res == resultHandBack && err != nil && ctx.Err() == nil; {
		// Not a shutdown: PostgreSQL failed under the job. Keep the delivery
		// (the heartbeat holds it) and run the job again as soon as the
		// database answers, instead of leaving it to the visibility timeout.
		log.Warn("job interrupted by a database error; it runs again when the database answers", "error", err)
		if !w.awaitDatabase(ctx) {
			// The database answered at once: not an outage. A few more
			// tries, then the redelivery after the visibility timeout.
			if reruns++; reruns > 5 || !sleep(ctx, time.Duration(reruns)*time.Second) {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
		res, err = w.run(ctx, d)
	}
	stopHB()
	hb.Wait()
	if err != nil {
		log.Error("job failed", "result", string(res), "error", err)
	}
	w.metrics.jobs.WithLabelValues(d.Job.Kind, string(res)).Inc()
	// Bookkeeping after a job must not be lost to the shutdown of its context.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch res {
	case resultHandBack:
		// Shutting down mid-job (or a database error that outlasted the
		// reruns): leave the delivery pending (no Ack). It is reclaimed after
		// the visibility timeout; the document row says queued.
		w.metrics.failures.WithLabelValues(d.Job.Kind, "handed_back").Inc()
		log.Info("job handed back")
		return
	case resultRetry:
		w.metrics.failures.WithLabelValues(d.Job.Kind, "transient").Inc()
	case resultFailed:
		w.metrics.failures.WithLabelValues(d.Job.Kind, "permanent").Inc()
	}
	if err := w.queue.Ack(bg, d); err != nil {
		log.Warn("ack failed; the job will be redelivered", "error", err)
	}
}

// errJobTimeout is the cause of a job context that reached Options.JobTimeout.
var errJobTimeout = errors.New("job timeout")

// timedOut reports whether ctx ended by the job deadline, and shuttingDown
// whether it ended for any other reason (the worker stops).
func timedOut(ctx context.Context) bool     { return errors.Is(context.Cause(ctx), errJobTimeout) }
func shuttingDown(ctx context.Context) bool { return ctx.Err() != nil && !timedOut(ctx) }

// run runs one delivery's job under the job deadline.
func (w *Worker) run(ctx context.Context, d *queue.Delivery) (jobResult, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, w.opts.JobTimeout, errJobTimeout)
	defer cancel()
	switch d.Job.Kind {
	case queue.KindDocument:
		return w.processDocument(ctx, d.Job.ID)
	case queue.KindReport:
		return w.processReport(ctx, d.Job.ID)
	case queue.KindReassess:
		return w.processReassessment(ctx, d.Job.ID)
	}
	w.log.Warn("unknown job kind dropped", "kind", d.Job.Kind, "id", d.Job.ID)
	return resultDone, nil
}

// awaitDatabase waits until PostgreSQL answers a ping or ctx ends, and
// reports whether it had to wait (the database was down).
func (w *Worker) awaitDatabase(ctx context.Context) bool {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := w.pool.Ping(pctx)
		cancel()
		if err == nil {
			return wait > 250*time.Millisecond
		}
		if !sleep(ctx, wait) {
			return true
		}
	}
}

// heartbeat keeps the delivery from being reclaimed and the document from
// being swept while the job runs.
func (w *Worker) heartbeat(ctx context.Context, d *queue.Delivery) {
	t := time.NewTicker(w.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.queue.Extend(ctx, d); err != nil && ctx.Err() == nil {
			w.log.Warn("heartbeat failed", "id", d.Job.ID, "error", err)
		}
		if d.Job.Kind == queue.KindDocument {
			if _, err := w.pool.Exec(ctx, `UPDATE documents SET enqueued_at = now()
				WHERE id = $1 AND pipeline_status NOT IN ('complete','failed')`, d.Job.ID); err != nil && ctx.Err() == nil {
				w.log.Warn("heartbeat update failed", "id", d.Job.ID, "error", err)
			}
		}
	}
}

// depthLoop refreshes the queue depth gauge.
func (w *Worker) depthLoop(ctx context.Context) {
	for {
		if n, err := w.queue.Depth(ctx); err == nil {
			w.metrics.queueDepth.Set(float64(n))
		}
		if !sleep(ctx, 5*time.Second) {
			return
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
