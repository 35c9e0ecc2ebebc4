package backend

import (
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// reportJSON is a report of one document (document_id) or of a whole
// project (project_id); the other is null.
type reportJSON struct {
	ID           string     `json:"id" format:"uuid"`
	DocumentID   *string    `json:"document_id" format:"uuid"`
	ProjectID    *string    `json:"project_id" format:"uuid"`
	Status       string     `json:"status" enum:"queued,running,complete,failed"`
	ErrorMessage *string    `json:"error_message"`
	CreatedAt    time.Time  `json:"created_at"`
	CompletedAt  *time.Time `json:"completed_at"`
	RequestedBy  *string    `json:"requested_by" format:"uuid"`
}

const reportColumns = `id, document_id, project_id, status, error_message, created_at, completed_at, requested_by`

func scanReport(row pgx.Row, extra ...any) (reportJSON, error) {
	var rp reportJSON
	err := row.Scan(append([]any{&rp.ID, &rp.DocumentID, &rp.ProjectID, &rp.Status, &rp.ErrorMessage, &rp.CreatedAt, &rp.CompletedAt,
		&rp.RequestedBy}, extra...)...)
	return rp, err
}

func (s *Server) handleCreateReport(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "editor", "request report")
	if err != nil {
		return err
	}
	return s.createReport(w, r, "document_id", id)
}

func (s *Server) handleCreateProjectReport(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "editor", "request project report")
	if err != nil {
		return err
	}
	return s.createReport(w, r, "project_id", id)
}

// createReport queues a report of the subject column's id.
func (s *Server) createReport(w http.ResponseWriter, r *http.Request, subject, id string) error {
	ctx := r.Context()
	rp, err := scanReport(s.pool.QueryRow(ctx, `INSERT INTO document_reports (`+subject+`, requested_by) VALUES ($1, $2)
		RETURNING `+reportColumns, id, caller(r).ID))
	if err != nil {
		return err
	}
	s.enqueue(ctx, queue.Job{Kind: queue.KindReport, ID: rp.ID})
	writeJSON(w, http.StatusAccepted, rp)
	return nil
}

func (s *Server) handleListReports(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	return s.listReports(w, r, "document_id", id)
}

func (s *Server) handleListProjectReports(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	return s.listReports(w, r, "project_id", id)
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request, subject, id string) error {
	rows, err := s.pool.Query(r.Context(), `SELECT `+reportColumns+` FROM document_reports WHERE `+subject+` = $1
		ORDER BY created_at DESC, id`, id)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (reportJSON, error) { return scanReport(row) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[reportJSON]{Items: items, Total: int64(len(items))})
	return nil
}

// reportAccess loads a report the caller may see, with its file keys.
func (s *Server) reportAccess(r *http.Request, id string) (rp reportJSON, htmlKey, pdfKey *string, err error) {
	ctx := r.Context()
	rp, err = scanReport(s.pool.QueryRow(ctx, `SELECT `+reportColumns+`, html_key, pdf_key FROM document_reports WHERE id = $1`, id),
		&htmlKey, &pdfKey)
	if err != nil {
		return rp, nil, nil, err
	}
	if rp.DocumentID != nil {
		_, _, err = s.documentAccess(ctx, caller(r), *rp.DocumentID)
	} else {
		_, err = s.projectRole(ctx, caller(r), *rp.ProjectID)
	}
	if err != nil {
		return rp, nil, nil, err
	}
	return rp, htmlKey, pdfKey, nil
}

func (s *Server) handleGetReport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	rp, _, _, err := s.reportAccess(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rp)
	return nil
}

// reportFile is what handleDownloadReport sends, by ?format=.
var reportFile = fileResponse{"text/html", "application/pdf"}

func (s *Server) handleDownloadReport(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "html"
	}
	if format != "html" && format != "pdf" {
		return unprocessable("format must be html or pdf")
	}
	rp, htmlKey, pdfKey, err := s.reportAccess(r, id)
	if err != nil {
		return err
	}
	key, mimeType := htmlKey, "text/html; charset=utf-8"
	if format == "pdf" {
		key, mimeType = pdfKey, "application/pdf"
	}
	if rp.Status != "complete" || key == nil || *key == "" {
		return errStatus(http.StatusConflict, "report is not ready")
	}
	// Named after what it reports on: "Supply Agreement report.pdf".
	var subject string
	if err := s.pool.QueryRow(r.Context(), `SELECT coalesce((SELECT original_name FROM documents WHERE id = $1),
		(SELECT name FROM projects WHERE id = $2), '')`, rp.DocumentID, rp.ProjectID).Scan(&subject); err != nil {
		return err
	}
	if rp.DocumentID != nil {
		subject = withoutExtension(subject)
	}
	return s.serveFile(w, r, *key, downloadName(subject+" report", format), mimeType)
}
