package backend

import (
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// A re-assessment applies the current playbook to the clauses of existing
// documents (a worker job; see services/worker/reassess.go).

type reassessmentJSON struct {
	ID             string     `json:"id" format:"uuid"`
	ProjectID      *string    `json:"project_id" format:"uuid"` // null: every project
	Status         string     `json:"status" enum:"queued,running,complete,failed"`
	DocumentsTotal int        `json:"documents_total"`
	DocumentsDone  int        `json:"documents_done"`
	ClausesChanged int        `json:"clauses_changed"`
	ErrorMessage   *string    `json:"error_message"`
	RequestedBy    *string    `json:"requested_by" format:"uuid"`
	CreatedAt      time.Time  `json:"created_at"`
	CompletedAt    *time.Time `json:"completed_at"`
}

const reassessmentColumns = `id, project_id, status, documents_total, documents_done, clauses_changed, error_message,
	requested_by, created_at, completed_at`

func scanReassessment(row pgx.Row) (reassessmentJSON, error) {
	var a reassessmentJSON
	err := row.Scan(&a.ID, &a.ProjectID, &a.Status, &a.DocumentsTotal, &a.DocumentsDone, &a.ClausesChanged, &a.ErrorMessage,
		&a.RequestedBy, &a.CreatedAt, &a.CompletedAt)
	return a, err
}

func (s *Server) handleCreateReassessment(w http.ResponseWriter, r *http.Request) error {
	return s.createReassessment(w, r, "")
}

func (s *Server) handleCreateProjectReassessment(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "admin", "re-assess project")
	if err != nil {
		return err
	}
	return s.createReassessment(w, r, id)
}

func (s *Server) createReassessment(w http.ResponseWriter, r *http.Request, projectID string) error {
	ctx := r.Context()
	var project any
	if projectID != "" {
		project = projectID
	}
	a, err := scanReassessment(s.pool.QueryRow(ctx, `INSERT INTO playbook_reassessments (project_id, requested_by)
		VALUES ($1, $2) RETURNING `+reassessmentColumns, project, caller(r).ID))
	if err != nil {
		return err
	}
	s.enqueue(ctx, queue.Job{Kind: queue.KindReassess, ID: a.ID})
	s.auditPlaybook(r, "playbook_reassessment_requested", map[string]any{"reassessment_id": a.ID, "project_id": a.ProjectID})
	writeJSON(w, http.StatusAccepted, a)
	return nil
}

func (s *Server) handleGetReassessment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	a, err := scanReassessment(s.pool.QueryRow(ctx, `SELECT `+reassessmentColumns+` FROM playbook_reassessments WHERE id = $1`, id))
	if err != nil {
		return err
	}
	p := caller(r)
	switch {
	case a.ProjectID != nil:
		if _, err := s.projectRole(ctx, p, *a.ProjectID); err != nil {
			return err
		}
	case !p.admin():
		return errNotFound
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) handleListReassessments(w http.ResponseWriter, r *http.Request) error {
	return s.listReassessments(w, r, `project_id IS NULL`)
}

func (s *Server) handleListProjectReassessments(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	return s.listReassessments(w, r, `project_id = $1`, id)
}

// listReassessments lists the latest ten re-assessments of a scope.
func (s *Server) listReassessments(w http.ResponseWriter, r *http.Request, where string, args ...any) error {
	rows, err := s.pool.Query(r.Context(), `SELECT `+reassessmentColumns+` FROM playbook_reassessments WHERE `+where+`
		ORDER BY created_at DESC, id LIMIT 10`, args...)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (reassessmentJSON, error) { return scanReassessment(row) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[reassessmentJSON]{Items: items, Total: int64(len(items))})
	return nil
}
