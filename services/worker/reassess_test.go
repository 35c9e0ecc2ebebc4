package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

type reassessRow struct {
	Status               string
	Total, Done, Changed int
}

// reassessAndWait queues a re-assessment (project "" = every project) and
// waits for it to finish.
func (e *env) reassessAndWait(projectID string) (string, reassessRow) {
	e.t.Helper()
	ctx := context.Background()
	var project any
	if projectID != "" {
		project = projectID
	}
	var id string
	if err := e.pool.QueryRow(ctx, `INSERT INTO playbook_reassessments (project_id, requested_by) VALUES ($1, $2) RETURNING id`,
		project, e.userID).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	e.enqueue(queue.KindReassess, id)
	return id, e.waitReassessment(id)
}

func (e *env) waitReassessment(id string) reassessRow {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var r reassessRow
		if err := e.pool.QueryRow(context.Background(), `SELECT status, documents_total, documents_done, clauses_changed
			FROM playbook_reassessments WHERE id = $1`, id).Scan(&r.Status, &r.Total, &r.Done, &r.Changed); err != nil {
			e.t.Fatal(err)
		}
		if r.Status == "complete" || r.Status == "failed" {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("re-assessment still %s after 2 minutes", r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type clauseRating struct{ risk, explanation, embedding string }

func (e *env) ratings(docID, category string) map[string]clauseRating {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT id::text, risk_level, explanation, coalesce(array_to_string(embedding, ','), '')
		FROM clauses WHERE document_id = $1 AND category = $2`, docID, category)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]clauseRating{}
	for rows.Next() {
		var id string
		var r clauseRating
		if err := rows.Scan(&id, &r.risk, &r.explanation, &r.embedding); err != nil {
			e.t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

// A rule change reaches documents analysed before it only through a
// re-assessment, which rewrites the ratings (nothing else) of the clauses
// concerned, applies a project's override in that project, and changes
// nothing when run again.
func TestReassessmentAppliesPlaybookChangesToExistingClauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	ctx := context.Background()
	id := e.upload("Adams Endorsement.pdf", "pdf", readCUAD(t, adamsGolf))
	if r := e.waitFinished(id, 2*time.Minute); r.Status != worker.StatusComplete {
		t.Fatalf("%s %s", r.Status, r.Error)
	}
	// A category the document has, and one of its clauses' ratings.
	var category, risk string
	if err := e.pool.QueryRow(ctx, `SELECT category, risk_level FROM clauses WHERE document_id = $1 AND category <> 'Other'
		ORDER BY ordinal LIMIT 1`, id).Scan(&category, &risk); err != nil {
		t.Fatal(err)
	}
	before := e.ratings(id, category)
	newRisk := map[string]string{"low": "high", "medium": "high", "high": "low"}[risk]

	// The firm rates the category differently from now on: first in the list.
	var ruleID string
	if err := e.pool.QueryRow(ctx, `INSERT INTO playbook_rules (category, pattern, risk_level, explanation, priority)
		VALUES ($1, '', $2, 'The firm changed its position.', 0) RETURNING id`, category, newRisk).Scan(&ruleID); err != nil {
		t.Fatal(err)
	}
	if got := e.ratings(id, category); got[firstKey(got)] != before[firstKey(got)] {
		t.Fatal("a rule change rewrote clauses without a re-assessment")
	}

	_, r := e.reassessAndWait("")
	if r.Status != "complete" || r.Total != 1 || r.Done != 1 || r.Changed < len(before) {
		t.Fatalf("re-assessment %+v, want complete, 1 of 1 document, at least %d clauses changed", r, len(before))
	}
	after := e.ratings(id, category)
	for cid, b := range before {
		a := after[cid]
		if a.risk != newRisk || a.explanation != "The firm changed its position." {
			t.Errorf("clause %s: %s %q, want %s with the new explanation", cid, a.risk, a.explanation, newRisk)
		}
		if a.embedding != b.embedding {
			t.Errorf("clause %s: the embedding changed; only the assessment may run", cid)
		}
	}
	var complete string
	if err := e.pool.QueryRow(ctx, `SELECT pipeline_status FROM documents WHERE id = $1`, id).Scan(&complete); err != nil || complete != "complete" {
		t.Fatalf("document status %q %v", complete, err)
	}

	// Idempotent: again, nothing changes.
	_, again := e.reassessAndWait("")
	if again.Status != "complete" || again.Changed != 0 {
		t.Fatalf("second run %+v, want complete with no change", again)
	}

	// The project overrides the firm's rule: its clauses follow the override.
	if _, err := e.pool.Exec(ctx, `INSERT INTO playbook_rules (project_id, overrides_rule_id, category, pattern, risk_level, explanation)
		VALUES ($1, $2, $3, '', 'medium', 'This client accepts it with review.')`, e.projectID, ruleID, category); err != nil {
		t.Fatal(err)
	}
	if _, pr := e.reassessAndWait(e.projectID); pr.Status != "complete" || pr.Changed < len(before) {
		t.Fatalf("project re-assessment %+v", pr)
	}
	for cid, a := range e.ratings(id, category) {
		if a.risk != "medium" || a.explanation != "This client accepts it with review." {
			t.Errorf("clause %s after the override: %s %q", cid, a.risk, a.explanation)
		}
	}
	// A document analysed now is rated with the project's playbook directly.
	next := e.upload("Adams Endorsement (2).pdf", "pdf", readCUAD(t, adamsGolf))
	if r := e.waitFinished(next, 2*time.Minute); r.Status != worker.StatusComplete {
		t.Fatalf("%s %s", r.Status, r.Error)
	}
	for cid, a := range e.ratings(next, category) {
		if a.risk != "medium" || a.explanation != "This client accepts it with review." {
			t.Errorf("new document's clause %s: %s %q, want the project's override", cid, a.risk, a.explanation)
		}
	}
}

func firstKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}
