package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// processReassessment runs a playbook re-assessment (playbook_reassessments
// row): the risk of every clause of the complete documents in its scope is
// rated again against the current playbook of the document's project. Only
// the assessment runs; text, clauses, categories and embeddings stay.
//
// It is idempotent: a clause is only written when its rating changes, so a
// re-run (a redelivery after a crash) finishes the work and changes nothing
// twice; clauses_changed accumulates across runs and so still counts each
// change once.
func (w *Worker) processReassessment(ctx context.Context, id string) (jobResult, error) {
	res, _, err := w.withJobLock(ctx, "reassess:"+id, func() (jobResult, error) {
		return w.reassess(ctx, id)
	})
	return res, err
}

func (w *Worker) reassess(ctx context.Context, id string) (jobResult, error) {
	start := time.Now()
	var projectID *string
	err := w.pool.QueryRow(ctx, `UPDATE playbook_reassessments a SET status = 'running', documents_done = 0,
			started_at = coalesce(started_at, now()),
			documents_total = (SELECT count(*) FROM documents d WHERE d.pipeline_status = 'complete'
				AND (a.project_id IS NULL OR d.project_id = a.project_id))
		WHERE id = $1 AND status IN ('queued', 'running') RETURNING project_id`, id).Scan(&projectID)
	if errors.Is(err, pgx.ErrNoRows) {
		return resultSkipped, nil
	}
	if err != nil {
		return resultHandBack, fmt.Errorf("claim re-assessment: %w", err)
	}
	log := w.log.With("reassessment_id", id)
	if err := w.reassessDocuments(ctx, id, projectID); err != nil {
		if shuttingDown(ctx) {
			return resultHandBack, nil
		}
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := w.pool.Exec(bg, `UPDATE playbook_reassessments SET status = 'failed', error_message = $2, completed_at = now()
			WHERE id = $1`, id, "the re-assessment could not be completed"); uerr != nil {
			return resultHandBack, fmt.Errorf("re-assessment %s: %w (marking it failed: %v)", id, err, uerr)
		}
		return resultFailed, fmt.Errorf("re-assessment %s: %w", id, err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE playbook_reassessments SET status = 'complete', error_message = NULL, completed_at = now()
		WHERE id = $1`, id); err != nil {
		return resultHandBack, fmt.Errorf("record re-assessment: %w", err)
	}
	w.metrics.observe("reassess", start)
	log.Info("re-assessment complete", "seconds", time.Since(start).Seconds())
	return resultDone, nil
}

func (w *Worker) reassessDocuments(ctx context.Context, id string, projectID *string) error {
	rows, err := w.pool.Query(ctx, `SELECT id::text, project_id::text FROM documents
		WHERE pipeline_status = 'complete' AND ($1::uuid IS NULL OR project_id = $1) ORDER BY project_id, created_at, id`, projectID)
	if err != nil {
		return fmt.Errorf("list documents: %w", err)
	}
	type doc struct{ id, project string }
	var docs []doc
	var d doc
	if _, err := pgx.ForEachRow(rows, []any{&d.id, &d.project}, func() error { docs = append(docs, d); return nil }); err != nil {
		return fmt.Errorf("list documents: %w", err)
	}
	playbooks := map[string]*analysis.Playbook{}
	an := w.analyzerFor(ctx)
	for _, d := range docs {
		pb := playbooks[d.project]
		if pb == nil {
			if pb, err = w.loadPlaybook(ctx, d.project); err != nil {
				return err
			}
			playbooks[d.project] = pb
		}
		changed, err := w.reassessDocument(ctx, an, pb, d.id)
		if err != nil {
			return fmt.Errorf("document %s: %w", d.id, err)
		}
		if _, err := w.pool.Exec(ctx, `UPDATE playbook_reassessments SET documents_done = documents_done + 1,
			clauses_changed = clauses_changed + $2 WHERE id = $1`, id, changed); err != nil {
			return fmt.Errorf("record progress: %w", err)
		}
	}
	return nil
}

// reassessDocument rates a document's clauses again and writes the ratings
// that changed. The assessment (possibly a provider call) runs without
// locks; the writes wait for the document row, as the pipeline's do, and
// skip clauses a concurrent re-run of the pipeline replaced.
func (w *Worker) reassessDocument(ctx context.Context, an *docAnalyzer, pb *analysis.Playbook, docID string) (int, error) {
	rows, err := w.pool.Query(ctx, `SELECT id::text, heading, category, text, risk_level, explanation
		FROM clauses WHERE document_id = $1 ORDER BY ordinal`, docID)
	if err != nil {
		return 0, err
	}
	var ids, risks, explanations []string
	var segs []Segment
	var cls []Classification
	var cid, heading, category, text, risk, why string
	if _, err := pgx.ForEachRow(rows, []any{&cid, &heading, &category, &text, &risk, &why}, func() error {
		ids, risks, explanations = append(ids, cid), append(risks, risk), append(explanations, why)
		segs = append(segs, Segment{Ordinal: len(segs) + 1, Heading: heading, Text: text})
		cls = append(cls, Classification{Category: category})
		return nil
	}); err != nil {
		return 0, err
	}
	if len(segs) == 0 {
		return 0, nil
	}
	tokens := an.Tokens()
	as, err := an.Assess(ctx, pb, segs, cls)
	if err != nil {
		return 0, err
	}
	if len(as) != len(segs) {
		return 0, errors.New("analyzer returned mismatched results")
	}
	changed := 0
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT pipeline_status FROM documents WHERE id = $1 FOR UPDATE`, docID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != StatusComplete) {
			return nil // deleted or being analysed again (with the new playbook)
		}
		if err != nil {
			return err
		}
		for i, a := range as {
			r, e := knownRisk(a.Risk), safeText(a.Explanation)
			if r == risks[i] && e == explanations[i] {
				continue
			}
			tag, err := tx.Exec(ctx, `UPDATE clauses SET risk_level = $2, explanation = $3 WHERE id = $1`, ids[i], r, e)
			if err != nil {
				return err
			}
			changed += int(tag.RowsAffected())
		}
		if spent := an.Tokens() - tokens; spent > 0 {
			_, err = tx.Exec(ctx, `UPDATE documents SET tokens_used = tokens_used + $2 WHERE id = $1`, docID, spent)
		}
		return err
	})
	return changed, err
}
