package backend

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Project roles, in increasing power.
var roleRank = map[string]int{"viewer": 1, "editor": 2, "admin": 3}

// projectRole returns the caller's role in a project: "admin" for system
// admins, the membership role otherwise. A project the caller cannot see is
// errNotFound (never 403, so its existence is not revealed).
func (s *Server) projectRole(ctx context.Context, p *principal, projectID string) (string, error) {
	var role *string
	err := s.pool.QueryRow(ctx, `SELECT pm.role FROM projects pr
		LEFT JOIN project_members pm ON pm.project_id = pr.id AND pm.user_id = $2
		WHERE pr.id = $1`, projectID, p.ID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errNotFound
	}
	if err != nil {
		return "", err
	}
	if p.admin() {
		return "admin", nil
	}
	if role == nil {
		return "", errNotFound
	}
	return *role, nil
}

// require checks that role is at least min, auditing a denial.
func (s *Server) require(r *http.Request, role, min, action string) error {
	if roleRank[role] >= roleRank[min] {
		return nil
	}
	return s.denied(r, action)
}

type projectJSON struct {
	ID            string    `json:"id" format:"uuid"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	CreatedAt     time.Time `json:"created_at"`
	MyRole        string    `json:"my_role" enum:"viewer,editor,admin"`
	DocumentCount int64     `json:"document_count"`
}

// projectSelect yields projectJSON columns for caller $1 (admin flag $2).
const projectSelect = `SELECT pr.id, pr.name, pr.description, pr.created_at,
	CASE WHEN $2 THEN 'admin' ELSE COALESCE(pm.role, '') END,
	(SELECT count(*) FROM documents d WHERE d.project_id = pr.id)
	FROM projects pr LEFT JOIN project_members pm ON pm.project_id = pr.id AND pm.user_id = $1`

func scanProject(row pgx.Row) (projectJSON, error) {
	var p projectJSON
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.CreatedAt, &p.MyRole, &p.DocumentCount)
	return p, err
}

func (s *Server) handleListProjects(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	limit, offset, err := pagination(r, 100, 500)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rows, err := s.pool.Query(ctx, projectSelect+` WHERE $2 OR pm.user_id IS NOT NULL
		ORDER BY lower(pr.name) LIMIT $3 OFFSET $4`, p.ID, p.admin(), limit, offset)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (projectJSON, error) { return scanProject(row) })
	if err != nil {
		return err
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM projects pr
		WHERE $2 OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = pr.id AND pm.user_id = $1)`,
		p.ID, p.admin()).Scan(&total); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[projectJSON]{Items: items, Total: total})
	return nil
}

// projectRequest creates (name required) or updates (fields present) a project.
type projectRequest struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

func (in *projectRequest) validate(create bool) error {
	if in.Name != nil {
		v := strings.TrimSpace(*in.Name)
		in.Name = &v
	}
	if create && (in.Name == nil || *in.Name == "") {
		return unprocessable("name is required")
	}
	if in.Name != nil && (*in.Name == "" || len(*in.Name) > 200) {
		return unprocessable("name must be 1 to 200 characters")
	}
	if in.Description != nil && len(*in.Description) > 5000 {
		return unprocessable("description is too long")
	}
	return nil
}

func (s *Server) handleCreateProject(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	var in projectRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.validate(true); err != nil {
		return err
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	ctx := r.Context()
	var out projectJSON
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `INSERT INTO projects (name, description, created_by) VALUES ($1, $2, $3) RETURNING id`,
			*in.Name, desc, p.ID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'admin')`, id, p.ID); err != nil {
			return err
		}
		var err error
		out, err = scanProject(tx.QueryRow(ctx, projectSelect+` WHERE pr.id = $3`, p.ID, p.admin(), id))
		return err
	})
	if isUniqueViolation(err) {
		return errStatus(http.StatusConflict, "a project with this name exists")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleGetProject(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	out, err := scanProject(s.pool.QueryRow(r.Context(), projectSelect+` WHERE pr.id = $3`, p.ID, p.admin(), id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleUpdateProject(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	ctx := r.Context()
	id, err := s.authorize(r, s.projectRole, "admin", "update project")
	if err != nil {
		return err
	}
	var in projectRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.validate(false); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
		updated_at = now() WHERE id = $1`, id, in.Name, in.Description)
	if isUniqueViolation(err) {
		return errStatus(http.StatusConflict, "a project with this name exists")
	}
	if err != nil {
		return err
	}
	out, err := scanProject(s.pool.QueryRow(ctx, projectSelect+` WHERE pr.id = $3`, p.ID, p.admin(), id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleDeleteProject(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	ctx := r.Context()
	id, err := s.authorize(r, s.projectRole, "admin", "delete project")
	if err != nil {
		return err
	}
	var docs, projectReports []string
	reports := map[string][]string{} // document id -> report ids
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text FROM documents WHERE project_id = $1`, id)
		if err != nil {
			return err
		}
		if docs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT r.document_id::text, r.id::text FROM document_reports r JOIN documents d ON d.id = r.document_id
			WHERE d.project_id = $1`, id)
		if err != nil {
			return err
		}
		var doc, rep string
		if _, err := pgx.ForEachRow(rows, []any{&doc, &rep}, func() error {
			reports[doc] = append(reports[doc], rep)
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT id::text FROM document_reports WHERE project_id = $1`, id)
		if err != nil {
			return err
		}
		if projectReports, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM projects WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return err
	}
	for _, d := range docs {
		s.trashDocumentFiles(ctx, d, reports[d])
	}
	if err := s.store.TrashReports(id, projectReports); err != nil {
		s.log.WarnContext(ctx, "trash project report files", "project_id", id, "error", err)
	}
	s.audit(ctx, auditEvent{Type: "project_deleted", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
		Detail: map[string]any{"project_id": id, "documents": len(docs)}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberJSON struct {
	UserID string `json:"user_id" format:"uuid"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role" enum:"viewer,editor,admin"`
}

type memberRequest struct {
	Role string `json:"role" enum:"viewer,editor,admin"`
}

func (s *Server) handleListMembers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT u.id, u.email, u.name, pm.role FROM project_members pm
		JOIN users u ON u.id = pm.user_id WHERE pm.project_id = $1 ORDER BY lower(u.email)`, id)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (memberJSON, error) {
		var m memberJSON
		err := row.Scan(&m.UserID, &m.Email, &m.Name, &m.Role)
		return m, err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[memberJSON]{Items: items, Total: int64(len(items))})
	return nil
}

func (s *Server) handlePutMember(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "admin", "manage members")
	if err != nil {
		return err
	}
	userID, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var in memberRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if roleRank[in.Role] == 0 {
		return unprocessable("role must be viewer, editor or admin")
	}
	var m memberJSON
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id, email, name FROM users WHERE id = $1`, userID).Scan(&m.UserID, &m.Email, &m.Name); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errStatus(http.StatusNotFound, "user not found")
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role`, id, userID, in.Role); err != nil {
			return err
		}
		m.Role = in.Role
		return ensureProjectAdmin(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// ensureProjectAdmin refuses a change that leaves a project with members but
// no project admin.
func ensureProjectAdmin(ctx context.Context, tx pgx.Tx, projectID string) error {
	var admins, members int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE role = 'admin'), count(*) FROM project_members
		WHERE project_id = $1`, projectID).Scan(&admins, &members); err != nil {
		return err
	}
	if members > 0 && admins == 0 {
		return unprocessable("a project needs at least one admin member")
	}
	return nil
}

func (s *Server) handleDeleteMember(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "admin", "manage members")
	if err != nil {
		return err
	}
	userID, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM project_members WHERE project_id = $1 AND user_id = $2`, id, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errNotFound
		}
		return ensureProjectAdmin(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// roleLookup finds the caller's role in the project that an id (a project,
// a document or a clause) belongs to; an id the caller may not see is
// errNotFound.
type roleLookup func(ctx context.Context, p *principal, id string) (string, error)

// authorize reads the {id} path parameter, checks through lookup that the
// caller may see it and, when min is set, holds at least that project role
// (a denial of action is audited).
func (s *Server) authorize(r *http.Request, lookup roleLookup, min, action string) (string, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return "", err
	}
	role, err := lookup(r.Context(), caller(r), id)
	if err != nil {
		return "", err
	}
	if min != "" {
		if err := s.require(r, role, min, action); err != nil {
			return "", err
		}
	}
	return id, nil
}

// documentRole is documentAccess as a roleLookup.
func (s *Server) documentRole(ctx context.Context, p *principal, id string) (string, error) {
	_, role, err := s.documentAccess(ctx, p, id)
	return role, err
}

// clauseRole is clauseAccess as a roleLookup.
func (s *Server) clauseRole(ctx context.Context, p *principal, id string) (string, error) {
	_, role, err := s.clauseAccess(ctx, p, id)
	return role, err
}
