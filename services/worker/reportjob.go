package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/keydates"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/worker/ai"
	"github.com/contract-lucidity/contract-lucidity/services/worker/report"
)

// processReport renders a requested report (document_reports row) as HTML
// and PDF under STORAGE_PATH/reports/ and records the keys.
func (w *Worker) processReport(ctx context.Context, id string) (jobResult, error) {
	res, _, err := w.withJobLock(ctx, "report:"+id, func() (jobResult, error) {
		return w.renderReport(ctx, id)
	})
	return res, err
}

func (w *Worker) renderReport(ctx context.Context, id string) (jobResult, error) {
	start := time.Now()
	var docID, projectID, requestedBy *string
	err := w.pool.QueryRow(ctx, `UPDATE document_reports r SET status = 'running'
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING document_id, project_id, (SELECT u.name || ' <' || u.email || '>' FROM users u WHERE u.id = r.requested_by)`, id).
		Scan(&docID, &projectID, &requestedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return resultSkipped, nil
	}
	if err != nil {
		if shuttingDown(ctx) {
			return resultHandBack, nil
		}
		return resultHandBack, fmt.Errorf("claim report: %w", err)
	}
	by := ""
	if requestedBy != nil {
		by = *requestedBy
	}
	if docID != nil {
		var data *report.Data
		if data, err = w.reportData(ctx, *docID); err == nil {
			data.RequestedBy = by
			w.summarize(ctx, *docID, data)
			err = w.writeReport(id, func(out io.Writer) error { return report.RenderHTML(out, data) },
				func(out io.Writer) error { return report.RenderPDF(out, data) })
		}
	} else if projectID != nil {
		var pr *report.Project
		if pr, err = w.projectReportData(ctx, *projectID); err == nil {
			pr.RequestedBy = by
			err = w.writeReport(id, func(out io.Writer) error { return report.RenderProjectHTML(out, pr) },
				func(out io.Writer) error { return report.RenderProjectPDF(out, pr) })
		}
	}
	if err != nil {
		if shuttingDown(ctx) {
			return resultHandBack, nil
		}
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := w.pool.Exec(bg, `UPDATE document_reports SET status = 'failed', error_message = $2, completed_at = now() WHERE id = $1`,
			id, "the report could not be generated"); uerr != nil {
			// Nothing recorded (the database is likely down): run it again.
			return resultHandBack, fmt.Errorf("report %s: %w (marking it failed: %v)", id, err, uerr)
		}
		return resultFailed, fmt.Errorf("report %s: %w", id, err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE document_reports SET status = 'complete', html_key = $2, pdf_key = $3,
		error_message = NULL, completed_at = now() WHERE id = $1`, id, storage.ReportKey(id, "html"), storage.ReportKey(id, "pdf")); err != nil {
		return resultHandBack, fmt.Errorf("record report: %w", err)
	}
	w.metrics.observe("report", start)
	w.log.Info("report generated", "report_id", id, "document_id", docID, "project_id", projectID, "seconds", time.Since(start).Seconds())
	return resultDone, nil
}

func (w *Worker) writeReport(id string, html, pdf func(io.Writer) error) error {
	var hb, pb bytes.Buffer
	if err := html(&hb); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	if err := pdf(&pb); err != nil {
		return err
	}
	if err := w.store.Write(storage.ReportKey(id, "html"), &hb); err != nil {
		return err
	}
	return w.store.Write(storage.ReportKey(id, "pdf"), &pb)
}

// projectReportLimit bounds the documents of a project report (the newest).
const projectReportLimit = 200

// projectReportData loads the report content of every document of a
// project (the built-in summary each; provider summaries are for document
// reports) and their key dates.
func (w *Worker) projectReportData(ctx context.Context, projectID string) (*report.Project, error) {
	pr := &report.Project{GeneratedAt: time.Now().UTC()}
	var total int
	if err := w.pool.QueryRow(ctx, `SELECT p.name, (SELECT count(*) FROM documents d WHERE d.project_id = p.id)
		FROM projects p WHERE p.id = $1`, projectID).Scan(&pr.ProjectName, &total); err != nil {
		return nil, fmt.Errorf("load project: %w", err)
	}
	rows, err := w.pool.Query(ctx, `SELECT id::text FROM documents WHERE project_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
		projectID, projectReportLimit)
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	pr.Truncated = total - len(ids)
	for _, id := range ids {
		d, err := w.reportData(ctx, id)
		if err != nil {
			return nil, err
		}
		d.Summary = report.OfflineSummary(d)
		for _, k := range d.KeyDates {
			k.Document = d.DocumentName
			pr.KeyDates = append(pr.KeyDates, k)
		}
		pr.Documents = append(pr.Documents, d)
	}
	sort.SliceStable(pr.KeyDates, func(i, j int) bool { return pr.KeyDates[i].Date < pr.KeyDates[j].Date })
	return pr, nil
}

// reportData loads a document's report content.
func (w *Worker) reportData(ctx context.Context, docID string) (*report.Data, error) {
	d := &report.Data{GeneratedAt: time.Now().UTC()}
	var factsJSON []byte
	err := w.pool.QueryRow(ctx, `SELECT d.original_name, p.name, d.file_type, coalesce(d.page_count, 0), d.pipeline_status,
			d.analyzer, coalesce((SELECT u.name || ' <' || u.email || '>' FROM users u WHERE u.id = d.uploaded_by), ''),
			d.created_at, d.completed_at, d.facts
		FROM documents d JOIN projects p ON p.id = d.project_id WHERE d.id = $1`, docID).
		Scan(&d.DocumentName, &d.ProjectName, &d.FileType, &d.Pages, &d.Status, &d.Analyzer, &d.UploadedBy,
			&d.UploadedAt, &d.CompletedAt, &factsJSON)
	if err != nil {
		return nil, fmt.Errorf("load document: %w", err)
	}
	d.Facts = factList(factsJSON)
	if d.Status == "complete" {
		for _, k := range keydates.Compute(factsJSON, time.Now()) {
			d.KeyDates = append(d.KeyDates, report.KeyDate{Date: k.Date.Format(time.DateOnly), Title: k.Title, Detail: k.Detail, Tentative: k.Tentative})
		}
	}
	rows, err := w.pool.Query(ctx, `SELECT c.ordinal, c.heading, c.category, c.confidence, c.risk_level, c.explanation, c.text,
			coalesce((SELECT cd.decision FROM clause_decisions cd WHERE cd.clause_id = c.id ORDER BY cd.decided_at DESC LIMIT 1), '')
		FROM clauses c WHERE c.document_id = $1 ORDER BY c.ordinal`, docID)
	if err != nil {
		return nil, fmt.Errorf("load clauses: %w", err)
	}
	for rows.Next() {
		var c report.Clause
		var conf float32
		if err := rows.Scan(&c.Ordinal, &c.Heading, &c.Category, &conf, &c.Risk, &c.Explanation, &c.Text, &c.Decision); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load clauses: %w", err)
		}
		c.Confidence = float64(conf)
		d.Clauses = append(d.Clauses, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load clauses: %w", err)
	}
	rows, err = w.pool.Query(ctx, `SELECT c.ordinal, c.category, cd.decision, cd.comment,
			coalesce((SELECT u.name || ' <' || u.email || '>' FROM users u WHERE u.id = cd.decided_by), 'deleted user'), cd.decided_at
		FROM clause_decisions cd JOIN clauses c ON c.id = cd.clause_id
		WHERE c.document_id = $1 ORDER BY cd.decided_at, c.ordinal`, docID)
	if err != nil {
		return nil, fmt.Errorf("load decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dec report.Decision
		if err := rows.Scan(&dec.ClauseOrdinal, &dec.Category, &dec.Decision, &dec.Comment, &dec.By, &dec.At); err != nil {
			return nil, fmt.Errorf("load decisions: %w", err)
		}
		d.Decisions = append(d.Decisions, dec)
	}
	return d, rows.Err()
}

// factOrder puts the usual facts first.
var factOrder = []string{"document_name", "document_type", "parties", "agreement_date", "effective_date",
	"expiration_date", "renewal_term", "notice_period", "notice_period_to_terminate_renewal", "governing_law"}

// factList renders documents.facts (a JSON object) as labelled values.
func factList(raw []byte) []report.Fact {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil
	}
	rank := map[string]int{}
	for i, k := range factOrder {
		rank[k] = i + 1
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		switch k {
		case "facts_version", "details", "party_details": // sources and certainty, not values
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank[keys[i]], rank[keys[j]]
		if ri == 0 {
			ri = 1000
		}
		if rj == 0 {
			rj = 1000
		}
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	var out []report.Fact
	for _, k := range keys {
		v := factValue(m[k])
		if v == "" {
			continue
		}
		label := strings.ReplaceAll(k, "_", " ")
		label = strings.ToUpper(label[:1]) + label[1:]
		out = append(out, report.Fact{Label: label, Value: v})
	}
	return out
}

func factValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := factValue(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		// e.g. {"value": "...", "text": "..."}: prefer a readable field.
		for _, k := range []string{"value", "text", "normalized", "raw"} {
			if s, ok := x[k].(string); ok && s != "" {
				return s
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// summarize fills the report summary: from the generation provider when one
// is configured (its tokens are added to the document's), else, or when the
// model's answer is unusable, the built-in summary.
func (w *Worker) summarize(ctx context.Context, docID string, data *report.Data) {
	data.Summary, data.SummaryBy = report.OfflineSummary(data), "the built-in analyzer"
	caps, err := w.loadCapabilities(ctx)
	if err != nil {
		w.log.Warn("AI configuration unreadable; built-in summary used", "error", err)
		return
	}
	cc, ok := caps[CapGeneration]
	if !ok {
		return
	}
	var facts map[string]any
	_ = w.pool.QueryRow(ctx, `SELECT facts FROM documents WHERE id = $1`, docID).Scan(&facts)
	in := ai.SummaryInput{DocumentName: data.DocumentName, Facts: facts}
	for _, c := range data.Clauses {
		in.Clauses = append(in.Clauses, ai.ClauseInput{Category: c.Category, Text: c.Text})
		in.Risks = append(in.Risks, c.Risk)
	}
	summary, tokens, err := ai.Summarize(ctx, cc.client, cc.model, in)
	if tokens > 0 {
		w.metrics.tokens.Add(float64(tokens))
		if _, uerr := w.pool.Exec(ctx, `UPDATE documents SET tokens_used = tokens_used + $2 WHERE id = $1`, docID, tokens); uerr != nil {
			w.log.Warn("could not record report tokens", "document_id", docID, "error", uerr)
		}
	}
	if err != nil {
		w.log.Warn("AI provider step failed; built-in summary used", "step", "summary", "provider", cc.label, "error", err)
		return
	}
	data.Summary, data.SummaryBy = summary, cc.label
}
