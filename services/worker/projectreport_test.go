package worker_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

const optimized = "OPTIMIZEDTRANSPORTATIONMANAGEMENT_INC_07_26_2000-EX-6.6-DISTRIBUTOR_AGREEMENT"

// A project report holds every clause of every document of the project:
// in full, or for low-risk "Other" clauses, as a numbered line of the
// summary.
func TestProjectReportJobCoversEveryClauseOfEveryDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	ctx := context.Background()
	docs := map[string]string{
		e.upload("Adams Endorsement.pdf", "pdf", readCUAD(t, adamsGolf)):     "Adams Endorsement.pdf",
		e.upload("Distributor Agreement.pdf", "pdf", readCUAD(t, optimized)): "Distributor Agreement.pdf",
	}
	for id := range docs {
		if r := e.waitFinished(id, 2*time.Minute); r.Status != worker.StatusComplete {
			t.Fatalf("%s %s", r.Status, r.Error)
		}
	}
	var reportID string
	if err := e.pool.QueryRow(ctx, `INSERT INTO document_reports (project_id, requested_by) VALUES ($1, $2) RETURNING id`,
		e.projectID, e.userID).Scan(&reportID); err != nil {
		t.Fatal(err)
	}
	e.enqueue(queue.KindReport, reportID)
	page := waitReportHTML(t, e, reportID)
	sections := strings.Split(page, `<section class="doc">`)
	if len(sections) != 3 {
		t.Fatalf("%d document sections, want 2", len(sections)-1)
	}
	others := 0
	for id, name := range docs {
		var section string
		for _, s := range sections[1:] {
			if strings.Contains(s, "<h2>"+html.EscapeString(name)+"</h2>") {
				section = s
			}
		}
		if section == "" {
			t.Fatalf("no section for %s", name)
		}
		rows, err := e.pool.Query(ctx, `SELECT ordinal, category, risk_level FROM clauses WHERE document_id = $1`, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var ord int
			var cat, risk string
			if err := rows.Scan(&ord, &cat, &risk); err != nil {
				t.Fatal(err)
			}
			n++
			want := fmt.Sprintf(`<td class="num">%d</td><td>%s<br>`, ord, html.EscapeString(cat))
			if cat == "Other" && risk == "low" {
				want = fmt.Sprintf("<li>§%d", ord)
				others++
			}
			if !strings.Contains(section, want) {
				t.Errorf("%s: clause %d (%s, %s) is not in the report (%q)", name, ord, cat, risk, want)
			}
		}
		rows.Close()
		if n == 0 {
			t.Fatalf("%s has no clauses", name)
		}
	}
	if others == 0 || !strings.Contains(page, "Other clauses (") {
		t.Errorf("%d low-risk Other clauses; the summary of them is missing", others)
	}
	// Facts version 2 keeps sources and certainty beside the values: not for the report.
	for _, internal := range []string{"<dt>Facts version</dt>", "<dt>Details</dt>", "<dt>Party details</dt>"} {
		if strings.Contains(page, internal) {
			t.Errorf("the report shows %s", internal)
		}
	}
	for _, want := range []string{"<h2>Documents</h2>", "<h2>Key dates</h2>", "2 documents with"} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
}
