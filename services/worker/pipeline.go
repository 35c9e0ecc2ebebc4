package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
	"github.com/contract-lucidity/contract-lucidity/services/worker/extract"
)

// Pipeline statuses (documents.pipeline_status).
const (
	StatusQueued      = "queued"
	StatusExtracting  = "extracting"
	StatusClassifying = "classifying"
	StatusAnalyzing   = "analyzing"
	StatusEmbedding   = "embedding"
	StatusComplete    = "complete"
	StatusFailed      = "failed"
)

// Progress written when a stage starts.
var stageProgress = map[string]int{
	StatusExtracting: 5, StatusClassifying: 35, StatusAnalyzing: 50, StatusEmbedding: 80, StatusComplete: 100,
}

type jobResult string

const (
	resultDone     jobResult = "complete"
	resultFailed   jobResult = "failed"
	resultRetry    jobResult = "retry"
	resultHandBack jobResult = "handed_back"
	resultSkipped  jobResult = "skipped"
)

// stageError is a failure of the pipeline with a user-facing message.
type stageError struct {
	stage     string
	permanent bool
	message   string
	err       error
}

func (e *stageError) Error() string { return fmt.Sprintf("%s: %s: %v", e.stage, e.message, e.err) }
func (e *stageError) Unwrap() error { return e.err }

// classify turns a stage's error into a stageError.
func classify(stage string, err error) *stageError {
	var se *stageError
	if errors.As(err, &se) {
		return se
	}
	var xe *extract.Error
	if errors.As(err, &xe) {
		return &stageError{stage: stage, permanent: xe.Permanent, message: xe.Message, err: err}
	}
	return &stageError{stage: stage, message: "processing failed unexpectedly", err: err}
}

// lockKey is the advisory lock of a document or report job.
const lockSQL = `SELECT pg_try_advisory_lock(hashtextextended($1, 7240))`

// withJobLock runs fn while holding the advisory lock named key on a
// connection of the lock pool. It reports false without running fn when
// another worker holds the lock.
func (w *Worker) withJobLock(ctx context.Context, key string, fn func() (jobResult, error)) (jobResult, bool, error) {
	// Without the lock the job has not started: hand it back, never ack it.
	conn, err := w.locks.Acquire(ctx)
	if err != nil {
		return resultHandBack, false, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, lockSQL, key).Scan(&got); err != nil {
		return resultHandBack, false, fmt.Errorf("take job lock: %w", err)
	}
	if !got {
		return resultSkipped, false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 7240))`, key); err != nil {
			// The lock dies with the session: drop the connection.
			_ = conn.Conn().Close(uctx)
		}
	}()
	res, err := fn()
	return res, true, err
}

// document is the row the pipeline works on.
type document struct {
	id, projectID, fileType, storageKey string
	attempts                            int
}

// processDocument runs the pipeline for one document.
func (w *Worker) processDocument(ctx context.Context, id string) (jobResult, error) {
	var retryIn time.Duration
	res, locked, err := w.withJobLock(ctx, "document:"+id, func() (res jobResult, err error) {
		defer func() {
			if p := recover(); p != nil {
				w.log.Error("pipeline panic", "document_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				res, err = w.failDocument(ctx, id, &stageError{stage: "pipeline", permanent: true,
					message: "the document could not be processed (internal error)", err: fmt.Errorf("panic: %v", p)})
			}
		}()
		return w.runPipeline(ctx, id, &retryIn)
	})
	if err == nil && !locked && res == resultSkipped {
		w.log.Info("document is being processed by another worker; duplicate job dropped", "document_id", id)
	}
	if res == resultRetry {
		// Only now that the lock is released: a retry due sooner would find
		// the document locked by this attempt and be dropped as a duplicate.
		w.enqueueAfter(ctx, id, retryIn)
	}
	return res, err
}

// runPipeline runs the pipeline; a retry sets *retryIn to its delay.
func (w *Worker) runPipeline(ctx context.Context, id string, retryIn *time.Duration) (jobResult, error) {
	log := w.log.With("document_id", id)
	var doc document
	doc.id = id
	err := w.pool.QueryRow(ctx, `UPDATE documents SET attempts = attempts + 1, pipeline_status = 'extracting',
			progress = $2, error_message = NULL, enqueued_at = now(), updated_at = now()
		WHERE id = $1 AND pipeline_status NOT IN ('complete', 'failed')
		RETURNING project_id::text, file_type, storage_key, attempts`, id, stageProgress[StatusExtracting]).
		Scan(&doc.projectID, &doc.fileType, &doc.storageKey, &doc.attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		log.Info("document gone or already finished; job dropped")
		return resultSkipped, nil
	}
	if err != nil {
		return w.handBackOnCancel(ctx, id, fmt.Errorf("claim document: %w", err))
	}
	log = log.With("attempt", doc.attempts)
	w.publish(ctx, doc.projectID, id, StatusExtracting, "")
	if doc.attempts > w.opts.MaxAttempts {
		return w.failDocument(ctx, id, &stageError{stage: "pipeline", permanent: true,
			message: fmt.Sprintf("processing failed %d times; giving up", doc.attempts-1), err: errors.New("too many attempts")})
	}
	log.Info("pipeline started", "file_type", doc.fileType)
	start := time.Now()
	an := w.analyzerFor(ctx)
	if err := w.pipelineStages(ctx, &doc, an); err != nil {
		if shuttingDown(ctx) {
			return w.handBackOnCancel(ctx, id, err)
		}
		se := classify("pipeline", err)
		if timedOut(ctx) {
			se = &stageError{stage: se.stage, message: fmt.Sprintf("processing took longer than %s", w.opts.JobTimeout), err: err}
		}
		if se.permanent || doc.attempts >= w.opts.MaxAttempts {
			if !se.permanent {
				se.message = fmt.Sprintf("%s (gave up after %d attempts)", se.message, doc.attempts)
			}
			return w.failDocument(ctx, id, se)
		}
		return w.retryDocument(ctx, doc, se, retryIn)
	}
	w.metrics.observe("total", start)
	log.Info("pipeline complete", "seconds", time.Since(start).Seconds())
	return resultDone, nil
}

// pipelineStages runs extracting -> classifying -> analyzing -> embedding
// and stores the result.
func (w *Worker) pipelineStages(ctx context.Context, doc *document, an *docAnalyzer) error {
	// Extracting.
	t := time.Now()
	// The tools read files: with object storage this is a copy in the
	// worker's /tmp, removed when extraction ends.
	// A missing file is retried, not failed at once: a volume not yet
	// mounted, or a file still being migrated to object storage.
	path, release, err := w.store.LocalFile(ctx, doc.storageKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &stageError{stage: StatusExtracting, message: "the stored file is missing", err: err}
	case err != nil:
		return &stageError{stage: StatusExtracting, message: "the stored file could not be read", err: err}
	}
	text, err := w.extractor.Extract(ctx, path, doc.fileType)
	release()
	if err != nil {
		return classify(StatusExtracting, err)
	}
	// The document viewer's page images and word boxes; without them the
	// viewer shows the clause in the extracted text.
	w.storePages(ctx, doc, path, text.Text)
	w.metrics.observe(StatusExtracting, t)
	if err := w.setStage(ctx, doc, StatusClassifying,
		`, extracted_text = $3, page_count = $4`, text.Text, text.Pages); err != nil {
		return err
	}
	w.hook(ctx, doc.id, StatusExtracting)

	// Classifying: document-level facts, each source linked to the clause
	// it lies in.
	t = time.Now()
	segs := an.Split(text.Text)
	facts, err := an.Facts(ctx, text.Text)
	if err != nil {
		return classify(StatusClassifying, err)
	}
	if facts == nil {
		facts = Facts{}
	}
	linkFactSources(facts, segs)
	if err := w.setStage(ctx, doc, StatusAnalyzing, `, facts = $3`, facts); err != nil {
		return err
	}
	w.metrics.observe(StatusClassifying, t)
	w.hook(ctx, doc.id, StatusClassifying)

	// Analyzing: clauses, categories, risk.
	t = time.Now()
	cls, err := an.Classify(ctx, segs)
	if err != nil {
		return classify(StatusAnalyzing, err)
	}
	pb, err := w.loadPlaybook(ctx, doc.projectID)
	if err != nil {
		return classify(StatusAnalyzing, err)
	}
	risks, err := an.Assess(ctx, pb, segs, cls)
	if err != nil {
		return classify(StatusAnalyzing, err)
	}
	if len(cls) != len(segs) || len(risks) != len(segs) {
		return &stageError{stage: StatusAnalyzing, message: "analysis failed", err: errors.New("analyzer returned mismatched results")}
	}
	w.metrics.observe(StatusAnalyzing, t)
	if err := w.setStage(ctx, doc, StatusEmbedding, ""); err != nil {
		return err
	}
	w.hook(ctx, doc.id, StatusAnalyzing)

	// Embedding, then one transaction replacing the clauses and completing.
	t = time.Now()
	texts := make([]string, len(segs))
	for i, s := range segs {
		texts[i] = s.Text
	}
	vecs, embedder, err := an.Embed(ctx, texts)
	if err != nil {
		return classify(StatusEmbedding, err)
	}
	if len(vecs) != len(segs) {
		return &stageError{stage: StatusEmbedding, message: "embedding failed", err: errors.New("embedder returned mismatched results")}
	}
	clauses := make([]Clause, len(segs))
	for i, s := range segs {
		// Values (Document Name, Parties, dates) are facts, never a
		// clause's category, whoever classified it.
		if !isClauseCategory(cls[i].Category) {
			cls[i] = Classification{Category: "Other"}
		}
		risks[i].Risk = knownRisk(risks[i].Risk)
		clauses[i] = Clause{Ordinal: i + 1, Heading: s.Heading, Text: s.Text, Category: cls[i].Category,
			Confidence: cls[i].Confidence, Risk: risks[i].Risk, Explanation: risks[i].Explanation, Embedding: vecs[i], EmbeddingModel: embedder}
		if s.End > s.Start {
			clauses[i].Start, clauses[i].End = s.Start, s.End
			clauses[i].PageStart = pages.PageOf(text.Text, s.Start)
			clauses[i].PageEnd = pages.PageOf(text.Text, s.End-1)
		}
	}
	if err := w.storeClauses(ctx, doc, clauses, an); err != nil {
		return err
	}
	w.metrics.observe(StatusEmbedding, t)
	w.metrics.tokens.Add(float64(an.Tokens()))
	return nil
}

func (w *Worker) hook(ctx context.Context, id, stage string) {
	if w.hooks.AfterStage != nil {
		w.hooks.AfterStage(ctx, id, stage)
	}
}

// setStage records that the document entered status, with extra SET
// clauses using parameters $3..., and tells the project's viewers.
func (w *Worker) setStage(ctx context.Context, doc *document, status, extraSet string, extra ...any) error {
	args := append([]any{doc.id, status}, extra...)
	tag, err := w.pool.Exec(ctx, `UPDATE documents SET pipeline_status = $2, progress = `+fmt.Sprint(stageProgress[status])+
		`, updated_at = now()`+extraSet+` WHERE id = $1 AND pipeline_status NOT IN ('complete','failed')`, args...)
	if err != nil {
		return &stageError{stage: status, message: "could not save progress", err: err}
	}
	if tag.RowsAffected() == 0 {
		return &stageError{stage: status, permanent: true, message: "the document was deleted or finished elsewhere", err: errDocumentGone}
	}
	w.publish(ctx, doc.projectID, doc.id, status, "")
	return nil
}

var errDocumentGone = errors.New("document row gone or terminal")

// knownRisk is a risk level clauses.risk_level accepts: a provider's odd
// answer counts as low.
func knownRisk(r string) string {
	switch r {
	case "low", "medium", "high":
		return r
	}
	return "low"
}

// storeClauses replaces the document's clauses and marks it complete in one
// transaction.
func (w *Worker) storeClauses(ctx context.Context, doc *document, clauses []Clause, an *docAnalyzer) error {
	id := doc.id
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT pipeline_status FROM documents WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return &stageError{stage: StatusEmbedding, permanent: true, message: "the document was deleted", err: errDocumentGone}
			}
			return err
		}
		if status == StatusComplete || status == StatusFailed {
			return &stageError{stage: StatusEmbedding, permanent: true, message: "the document finished elsewhere", err: errDocumentGone}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM clauses WHERE document_id = $1`, id); err != nil {
			return err
		}
		rows := make([][]any, len(clauses))
		for i, c := range clauses {
			rows[i] = []any{id, c.Ordinal, safeText(c.Heading), safeText(c.Category), float32(c.Confidence), safeText(c.Text),
				c.Risk, safeText(c.Explanation), c.Embedding, c.EmbeddingModel,
				nullInt(c.Start, c.End > c.Start), nullInt(c.End, c.End > c.Start), nullInt(c.PageStart, c.PageStart > 0), nullInt(c.PageEnd, c.PageEnd > 0)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"clauses"},
			[]string{"document_id", "ordinal", "heading", "category", "confidence", "text", "risk_level", "explanation", "embedding", "embedding_model",
				"start_offset", "end_offset", "page_start", "page_end"},
			pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("insert clauses: %w", err)
		}
		// With pgvector (migrate added embedding_vec), mirror the vectors
		// into the indexed column in the same transaction.
		vec, err := search.HasVector(ctx, tx)
		if err != nil {
			return err
		}
		if vec {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE clauses SET embedding_vec = embedding::vector(%d)
				WHERE document_id = $1 AND cardinality(embedding) = %d`, search.Dim, search.Dim), id); err != nil {
				return fmt.Errorf("store vectors: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE documents SET pipeline_status = 'complete', progress = 100, error_message = NULL,
			analyzer = $2, tokens_used = tokens_used + $3, completed_at = now(), updated_at = now() WHERE id = $1`,
			id, an.Name(), an.Tokens())
		return err
	})
	if err != nil {
		var se *stageError
		if errors.As(err, &se) {
			return se
		}
		// Data exceptions and constraint violations will not go away on retry.
		var pgErr *pgconn.PgError
		permanent := errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
		return &stageError{stage: StatusEmbedding, permanent: permanent, message: "could not save the analysis", err: err}
	}
	w.publish(ctx, doc.projectID, id, StatusComplete, "")
	return nil
}

// safeText makes text storable in PostgreSQL: valid UTF-8 without NUL.
func safeText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// failDocument marks the document failed with a user-facing reason.
func (w *Worker) failDocument(ctx context.Context, id string, se *stageError) (jobResult, error) {
	if errors.Is(se.err, errDocumentGone) {
		return resultSkipped, nil
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var projectID string
	err := w.pool.QueryRow(bg, `UPDATE documents SET pipeline_status = 'failed', error_message = $2, updated_at = now()
		WHERE id = $1 AND pipeline_status NOT IN ('complete','failed') RETURNING project_id::text`, id, se.message).Scan(&projectID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return resultHandBack, fmt.Errorf("mark document failed: %w", err) // not recorded: run it again
	}
	if err == nil {
		w.publish(bg, projectID, id, StatusFailed, se.message)
	}
	w.log.Warn("document failed", "document_id", id, "stage", se.stage, "reason", se.message, "error", se.err)
	return resultFailed, se
}

// retryDocument puts the document back to queued; processDocument
// re-enqueues it after the backoff (*retryIn) once the job's lock is
// released. The job is acked; if this process stops before the re-enqueue,
// the sweep re-enqueues the document (enqueued_at is set to the retry time).
func (w *Worker) retryDocument(ctx context.Context, doc document, se *stageError, retryIn *time.Duration) (jobResult, error) {
	delay := w.opts.RetryBackoff << min(doc.attempts-1, 10)
	delay = min(delay, 5*time.Minute)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := w.pool.Exec(bg, `UPDATE documents SET pipeline_status = 'queued', progress = 0,
			enqueued_at = now() + make_interval(secs => $2), updated_at = now()
		WHERE id = $1 AND pipeline_status NOT IN ('complete','failed')`, doc.id, delay.Seconds()); err != nil {
		return resultHandBack, fmt.Errorf("requeue document: %w", err)
	}
	w.publish(bg, doc.projectID, doc.id, StatusQueued, "")
	w.log.Warn("document will be retried", "document_id", doc.id, "stage", se.stage, "attempt", doc.attempts,
		"retry_in", delay.String(), "error", se.err)
	*retryIn = delay
	return resultRetry, se
}

// enqueueAfter enqueues the document's job again after delay.
func (w *Worker) enqueueAfter(ctx context.Context, id string, delay time.Duration) {
	w.retries.Add(1)
	go func() {
		defer w.retries.Done()
		// Not ctx: it may have ended by the job deadline.
		if !sleep(w.runCtx, delay) {
			return // shutting down: the sweep re-enqueues it later
		}
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := w.queue.Enqueue(ectx, queue.Job{Kind: queue.KindDocument, ID: id}); err != nil {
			w.log.Warn("re-enqueue failed; the sweep will retry", "document_id", id, "error", err)
		}
	}()
}

// handBackOnCancel handles an interruption by shutdown: the document goes
// back to queued and the delivery stays unacked for another worker.
func (w *Worker) handBackOnCancel(ctx context.Context, id string, err error) (jobResult, error) {
	if !shuttingDown(ctx) {
		return resultHandBack, err // e.g. database unreachable: leave it to the redelivery
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = w.pool.Exec(bg, `UPDATE documents SET pipeline_status = 'queued', progress = 0, updated_at = now()
		WHERE id = $1 AND pipeline_status NOT IN ('complete','failed')`, id)
	return resultHandBack, nil
}

// sweepLoop periodically re-enqueues documents that are not finished and
// whose last enqueue or heartbeat is older than the visibility timeout: the
// queue lost their job (Redis restarted) or their worker died and its
// delivery was acked or lost.
func (w *Worker) sweepLoop(ctx context.Context) {
	for sleep(ctx, w.opts.SweepInterval) {
		if n, err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("sweep failed", "error", err)
		} else if n > 0 {
			w.log.Info("sweep re-enqueued documents", "count", n)
		}
	}
}

// Sweep runs one re-enqueue pass and returns how many jobs it enqueued.
func (w *Worker) Sweep(ctx context.Context) (int, error) {
	rows, err := w.pool.Query(ctx, `WITH stale AS (
			SELECT id FROM documents
			WHERE pipeline_status NOT IN ('complete', 'failed') AND enqueued_at < now() - make_interval(secs => $1)
			ORDER BY enqueued_at LIMIT 200 FOR UPDATE SKIP LOCKED)
		UPDATE documents d SET enqueued_at = now() FROM stale WHERE d.id = stale.id RETURNING d.id::text`,
		w.visibility().Seconds())
	if err != nil {
		return 0, fmt.Errorf("find stale documents: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("find stale documents: %w", err)
	}
	n := 0
	for _, id := range ids {
		if err := w.queue.Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id}); err != nil {
			return n, err
		}
		n++
	}
	// Reports have no enqueued_at: a report still queued or running long
	// after its request lost its job or its worker. A duplicate job is
	// harmless (the job lock and the status check drop it).
	rows, err = w.pool.Query(ctx, `SELECT id::text FROM document_reports
		WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1)
		ORDER BY created_at LIMIT 50`, 2*w.visibility().Seconds())
	if err != nil {
		return n, fmt.Errorf("find stale reports: %w", err)
	}
	reports, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return n, fmt.Errorf("find stale reports: %w", err)
	}
	for _, id := range reports {
		if err := w.queue.Enqueue(ctx, queue.Job{Kind: queue.KindReport, ID: id}); err != nil {
			return n, err
		}
		n++
	}
	// Re-assessments likewise (a long one still running holds its job
	// lock, so the duplicate is dropped).
	rows, err = w.pool.Query(ctx, `SELECT id::text FROM playbook_reassessments
		WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1)
		ORDER BY created_at LIMIT 50`, 2*w.visibility().Seconds())
	if err != nil {
		return n, fmt.Errorf("find stale re-assessments: %w", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return n, fmt.Errorf("find stale re-assessments: %w", err)
	}
	for _, id := range stale {
		if err := w.queue.Enqueue(ctx, queue.Job{Kind: queue.KindReassess, ID: id}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
