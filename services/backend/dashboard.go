package backend

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/keydates"
)

// The project dashboard: each document with its risk counts and the
// decisions still to take, and the contracts' key dates (also as an
// iCalendar file).

type keyDateJSON struct {
	DocumentID   string `json:"document_id" format:"uuid"`
	DocumentName string `json:"document_name"`
	Kind         string `json:"kind" enum:"expiration,renewal,notice"`
	Date         string `json:"date" format:"date"`
	Tentative    bool   `json:"tentative"` // computed from a fact the analyser is unsure of: check the contract
	Title        string `json:"title"`
	Detail       string `json:"detail"`
	SourceText   string `json:"source_text"` // the passage the date rests on ("" when unknown)
	SourcePage   int    `json:"source_page"` // its page (0 when unknown)
}

type dashboardDocumentJSON struct {
	ID             string    `json:"id" format:"uuid"`
	OriginalName   string    `json:"original_name"`
	PipelineStatus string    `json:"pipeline_status" enum:"queued,extracting,classifying,analyzing,embedding,complete,failed"`
	ClauseCount    int       `json:"clause_count"`
	High           int       `json:"high"`
	Medium         int       `json:"medium"`
	Low            int       `json:"low"`
	Decided        int       `json:"decided"`                 // clauses with a decision
	Outstanding    int       `json:"outstanding"`             // clauses without one
	OutstandingHM  int       `json:"outstanding_high_medium"` // of those, rated high or medium
	CreatedAt      time.Time `json:"created_at"`
}

type dashboardTotalsJSON struct {
	Documents     int `json:"documents"`
	Complete      int `json:"complete"`
	High          int `json:"high"`
	Medium        int `json:"medium"`
	Low           int `json:"low"`
	Decided       int `json:"decided"`
	Outstanding   int `json:"outstanding"`
	OutstandingHM int `json:"outstanding_high_medium"`
}

type dashboardJSON struct {
	ProjectID string                  `json:"project_id" format:"uuid"`
	Totals    dashboardTotalsJSON     `json:"totals"`
	Documents []dashboardDocumentJSON `json:"documents"`
	KeyDates  []keyDateJSON           `json:"key_dates"`
}

// dashboardLimit bounds the documents a dashboard lists (newest first).
const dashboardLimit = 500

func (s *Server) handleProjectDashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id, d.original_name, d.pipeline_status, d.clause_count, d.created_at,
			count(c.id) FILTER (WHERE c.risk_level = 'high'), count(c.id) FILTER (WHERE c.risk_level = 'medium'),
			count(c.id) FILTER (WHERE c.risk_level = 'low'),
			count(c.id) FILTER (WHERE dec.decided), count(c.id) FILTER (WHERE NOT dec.decided),
			count(c.id) FILTER (WHERE NOT dec.decided AND c.risk_level IN ('high', 'medium'))
		FROM documents d LEFT JOIN clauses c ON c.document_id = d.id
		LEFT JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM clause_decisions cd WHERE cd.clause_id = c.id) AS decided) dec ON true
		WHERE d.project_id = $1 GROUP BY d.id ORDER BY d.created_at DESC, d.id LIMIT $2`, id, dashboardLimit)
	if err != nil {
		return err
	}
	out := dashboardJSON{ProjectID: id, Documents: []dashboardDocumentJSON{}}
	var d dashboardDocumentJSON
	if _, err := pgx.ForEachRow(rows, []any{&d.ID, &d.OriginalName, &d.PipelineStatus, &d.ClauseCount, &d.CreatedAt,
		&d.High, &d.Medium, &d.Low, &d.Decided, &d.Outstanding, &d.OutstandingHM}, func() error {
		out.Documents = append(out.Documents, d)
		t := &out.Totals
		t.Documents++
		if d.PipelineStatus == "complete" {
			t.Complete++
		}
		t.High, t.Medium, t.Low = t.High+d.High, t.Medium+d.Medium, t.Low+d.Low
		t.Decided, t.Outstanding, t.OutstandingHM = t.Decided+d.Decided, t.Outstanding+d.Outstanding, t.OutstandingHM+d.OutstandingHM
		return nil
	}); err != nil {
		return err
	}
	if out.KeyDates, err = s.projectKeyDates(ctx, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// projectKeyDates computes the key dates of a project's analysed documents,
// in date order.
func (s *Server) projectKeyDates(ctx context.Context, projectID string) ([]keyDateJSON, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, original_name, facts FROM documents
		WHERE project_id = $1 AND pipeline_status = 'complete' ORDER BY created_at, id`, projectID)
	if err != nil {
		return nil, err
	}
	today := time.Now()
	out := []keyDateJSON{}
	var id, name string
	var facts []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &name, &facts}, func() error {
		for _, k := range keydates.Compute(facts, today) {
			j := keyDateJSON{DocumentID: id, DocumentName: name, Kind: k.Kind, Date: k.Date.Format(time.DateOnly),
				Tentative: k.Tentative, Title: k.Title, Detail: k.Detail}
			if k.Source != nil {
				j.SourceText, j.SourcePage = k.Source.Text, k.Source.Page
			}
			out = append(out, j)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sortKeyDates(out)
	return out, nil
}

// sortKeyDates orders by date (ISO dates sort as strings).
func sortKeyDates(ds []keyDateJSON) {
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Date < ds[j].Date })
}

func (s *Server) handleProjectKeyDates(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	items, err := s.projectKeyDates(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[keyDateJSON]{Items: items, Total: int64(len(items))})
	return nil
}

// calendarFile is what handleProjectCalendar sends.
var calendarFile = fileResponse{"text/calendar"}

func (s *Server) handleProjectCalendar(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	var name string
	if err := s.pool.QueryRow(ctx, `SELECT name FROM projects WHERE id = $1`, id).Scan(&name); err != nil {
		return err
	}
	dates, err := s.projectKeyDates(ctx, id)
	if err != nil {
		return err
	}
	events := make([]keydates.Event, 0, len(dates))
	for _, k := range dates {
		day, _ := time.Parse(time.DateOnly, k.Date)
		desc := k.Detail
		if k.Tentative {
			desc = "Tentative: read from a passage the analysis is unsure of; check the contract. " + desc
		}
		if k.SourceText != "" {
			desc += "\n\nFrom the contract"
			if k.SourcePage > 0 {
				desc += fmt.Sprintf(" (page %d)", k.SourcePage)
			}
			desc += ": " + k.SourceText
		}
		events = append(events, keydates.Event{UID: k.DocumentID + "-" + k.Kind + "@contract-lucidity", Date: day,
			Summary: k.Title + ": " + k.DocumentName, Description: desc, Tentative: k.Tentative})
	}
	var buf bytes.Buffer
	if err := keydates.WriteICS(&buf, name+" key dates", events, time.Now()); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", attachment(downloadName(name+" key dates", "ics")))
	_, err = w.Write(buf.Bytes())
	return err
}
