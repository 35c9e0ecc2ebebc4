package backend

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/search"
)

type decisionJSON struct {
	ID        string    `json:"id" format:"uuid"`
	ClauseID  string    `json:"clause_id" format:"uuid"`
	Decision  string    `json:"decision" enum:"accept,reject,negotiate"`
	Comment   string    `json:"comment"`
	DecidedBy *userRef  `json:"decided_by"`
	DecidedAt time.Time `json:"decided_at"`
}

type clauseJSON struct {
	ID         string `json:"id" format:"uuid"`
	DocumentID string `json:"document_id" format:"uuid"`
	Ordinal    int    `json:"ordinal"`
	Heading    string `json:"heading"`
	// Category is a clause type, or Other: below the classifier's floor,
	// and never a value such as Document Name or a date (those are facts).
	Category   string  `json:"category"`
	Confidence float32 `json:"confidence"`
	// Likelihood is Confidence in words (likely from 0.5, else possible);
	// absent for Other.
	Likelihood  string `json:"likelihood,omitempty" enum:"likely,possible"`
	Text        string `json:"text"`
	RiskLevel   string `json:"risk_level" enum:"low,medium,high"`
	Explanation string `json:"explanation"`
	// StartOffset and EndOffset are the clause's bytes in the document's
	// extracted text, PageStart and PageEnd its pages; null for clauses
	// analyzed before positions were stored.
	StartOffset    *int          `json:"start_offset"`
	EndOffset      *int          `json:"end_offset"`
	PageStart      *int          `json:"page_start"`
	PageEnd        *int          `json:"page_end"`
	LatestDecision *decisionJSON `json:"latest_decision"`
}

// clauseColumns and the LATERAL join below yield a clause with its latest
// decision.
const clauseColumns = `c.id, c.document_id, c.ordinal, c.heading, c.category, c.confidence, c.text, c.risk_level,
	c.explanation, c.start_offset, c.end_offset, c.page_start, c.page_end,
	ld.id, ld.decision, ld.comment, ld.decided_at, ld.uid, ld.uname, ld.uemail`

const latestDecisionJoin = `LEFT JOIN LATERAL (
	SELECT cd.id, cd.decision, cd.comment, cd.decided_at, u.id AS uid, u.name AS uname, u.email AS uemail
	FROM clause_decisions cd LEFT JOIN users u ON u.id = cd.decided_by
	WHERE cd.clause_id = c.id ORDER BY cd.decided_at DESC, cd.id DESC LIMIT 1) ld ON true`

func scanClause(row pgx.Row, extra ...any) (clauseJSON, error) {
	var c clauseJSON
	var did, dec, comment, uid, uname, uemail *string
	var at *time.Time
	dst := append([]any{&c.ID, &c.DocumentID, &c.Ordinal, &c.Heading, &c.Category, &c.Confidence, &c.Text, &c.RiskLevel,
		&c.Explanation, &c.StartOffset, &c.EndOffset, &c.PageStart, &c.PageEnd,
		&did, &dec, &comment, &at, &uid, &uname, &uemail}, extra...)
	if err := row.Scan(dst...); err != nil {
		return c, err
	}
	// Rows analyzed before values stopped being clause categories read as
	// Other: "Document Name" is not a kind of clause.
	if c.Category != analysis.Other && !analysis.IsClauseType(c.Category) {
		c.Category, c.Confidence = analysis.Other, 0
	}
	if c.Category != analysis.Other {
		c.Likelihood = analysis.Likelihood(float64(c.Confidence))
	}
	if did != nil {
		c.LatestDecision = &decisionJSON{ID: *did, ClauseID: c.ID, Decision: *dec, Comment: *comment, DecidedAt: *at}
		if uid != nil {
			c.LatestDecision.DecidedBy = &userRef{ID: *uid, Name: *uname, Email: *uemail}
		}
	}
	return c, nil
}

func (s *Server) handleListClauses(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	risk := q.Get("risk")
	if risk != "" && risk != "low" && risk != "medium" && risk != "high" {
		return unprocessable("risk must be low, medium or high")
	}
	rows, err := s.pool.Query(ctx, `SELECT `+clauseColumns+` FROM clauses c `+latestDecisionJoin+`
		WHERE c.document_id = $1 AND ($2 = '' OR c.risk_level = $2)
		ORDER BY c.ordinal`, id, risk)
	if err != nil {
		return err
	}
	all, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (clauseJSON, error) { return scanClause(row) })
	if err != nil {
		return err
	}
	// The category filter applies to the category shown (scanClause files
	// old value rows under Other), so it runs here, not in SQL.
	items := all
	if cat := q.Get("category"); cat != "" {
		items = make([]clauseJSON, 0, len(all))
		for _, c := range all {
			if c.Category == cat {
				items = append(items, c)
			}
		}
	}
	writeJSON(w, http.StatusOK, page[clauseJSON]{Items: items, Total: int64(len(items))})
	return nil
}

// clauseAccess resolves a clause to its document and the caller's role.
func (s *Server) clauseAccess(ctx context.Context, p *principal, clauseID string) (documentID, role string, err error) {
	if err := s.pool.QueryRow(ctx, `SELECT document_id FROM clauses WHERE id = $1`, clauseID).Scan(&documentID); err != nil {
		return "", "", err
	}
	_, role, err = s.documentAccess(ctx, p, documentID)
	return documentID, role, err
}

const decisionSelect = `SELECT cd.id, cd.clause_id, cd.decision, cd.comment, cd.decided_at, u.id, u.name, u.email
	FROM clause_decisions cd LEFT JOIN users u ON u.id = cd.decided_by`

func scanDecision(row pgx.Row) (decisionJSON, error) {
	var d decisionJSON
	var uid, uname, uemail *string
	if err := row.Scan(&d.ID, &d.ClauseID, &d.Decision, &d.Comment, &d.DecidedAt, &uid, &uname, &uemail); err != nil {
		return d, err
	}
	if uid != nil {
		d.DecidedBy = &userRef{ID: *uid, Name: *uname, Email: *uemail}
	}
	return d, nil
}

type decisionRequest struct {
	Decision string `json:"decision" enum:"accept,reject,negotiate"`
	Comment  string `json:"comment,omitempty"`
}

func (s *Server) handleCreateDecision(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := caller(r)
	id, err := s.authorize(r, s.clauseRole, "editor", "decide clause")
	if err != nil {
		return err
	}
	var in decisionRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Decision != "accept" && in.Decision != "reject" && in.Decision != "negotiate" {
		return unprocessable("decision must be accept, reject or negotiate")
	}
	if len(in.Comment) > 10000 {
		return unprocessable("comment is too long")
	}
	d, err := scanDecision(s.pool.QueryRow(ctx, `WITH cd AS (
		INSERT INTO clause_decisions (clause_id, decision, comment, decided_by) VALUES ($1, $2, $3, $4) RETURNING *)
		`+strings.Replace(decisionSelect, "FROM clause_decisions cd", "FROM cd", 1), id, in.Decision, strings.TrimSpace(in.Comment), p.ID))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) handleClauseDecisions(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.clauseRole, "", "")
	if err != nil {
		return err
	}
	return s.writeDecisions(w, r, decisionSelect+` WHERE cd.clause_id = $1 ORDER BY cd.decided_at DESC, cd.id DESC`, id)
}

func (s *Server) handleDocumentDecisions(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.documentRole, "", "")
	if err != nil {
		return err
	}
	return s.writeDecisions(w, r, decisionSelect+` JOIN clauses c ON c.id = cd.clause_id
		WHERE c.document_id = $1 ORDER BY cd.decided_at DESC, cd.id DESC`, id)
}

func (s *Server) writeDecisions(w http.ResponseWriter, r *http.Request, sql string, args ...any) error {
	rows, err := s.pool.Query(r.Context(), sql, args...)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (decisionJSON, error) { return scanDecision(row) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[decisionJSON]{Items: items, Total: int64(len(items))})
	return nil
}

// searchHit is a clause with where it was found and how well it matched.
type searchHit struct {
	clauseJSON
	DocumentName string   `json:"document_name"`
	ProjectID    string   `json:"project_id" format:"uuid"`
	Score        *float64 `json:"score,omitempty"` // similar clauses
	Rank         *float64 `json:"rank,omitempty"`  // full-text search
}

// visibleDocs restricts documents d to projects the caller ($1, admin $2) may see.
const visibleDocs = `($2 OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = d.project_id AND pm.user_id = $1))`

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, unprocessable("%s must be an integer of at least %d", name, lo)
	}
	return min(n, hi), nil
}

// handleSimilar ranks clauses of other visible documents by cosine
// similarity of their embeddings through services/internal/search (pgvector
// HNSW when available, else an exact scan): only those at least
// search.MinSimilarity alike, the clause's own category first. It then
// attaches the latest decisions.
func (s *Server) handleSimilar(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.clauseRole, "", "")
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 5, 1, 50)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := caller(r)
	scope := search.AllProjects()
	if !p.admin() {
		rows, err := s.pool.Query(ctx, `SELECT project_id::text FROM project_members WHERE user_id = $1`, p.ID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		scope = search.Projects(ids...)
	}
	results, err := search.Related(ctx, s.pool, id, scope, limit)
	if errors.Is(err, search.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	items := make([]searchHit, 0, len(results))
	if len(results) > 0 {
		ids := make([]string, len(results))
		for i, res := range results {
			ids[i] = res.ClauseID
		}
		rows, err := s.pool.Query(ctx, `SELECT `+clauseColumns+` FROM clauses c `+latestDecisionJoin+` WHERE c.id = ANY($1::uuid[])`, ids)
		if err != nil {
			return err
		}
		clauses, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (clauseJSON, error) { return scanClause(row) })
		if err != nil {
			return err
		}
		byID := make(map[string]clauseJSON, len(clauses))
		for _, c := range clauses {
			byID[c.ID] = c
		}
		for _, res := range results {
			c, ok := byID[res.ClauseID]
			if !ok {
				continue // deleted meanwhile
			}
			score := res.Score
			items = append(items, searchHit{clauseJSON: c, DocumentName: res.DocumentName, ProjectID: res.ProjectID, Score: &score})
		}
	}
	writeJSON(w, http.StatusOK, page[searchHit]{Items: items, Total: int64(len(items))})
	return nil
}

// handleSearch is full-text search over clause text (English stemming),
// limited to visible projects and optionally one project.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return unprocessable("q is required")
	}
	if len(q) > 500 {
		return unprocessable("q is too long")
	}
	limit, err := intParam(r, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	ctx := r.Context()
	p := caller(r)
	projectID := r.URL.Query().Get("project_id")
	if projectID != "" {
		if !validUUID(projectID) {
			return errNotFound
		}
		if _, err := s.projectRole(ctx, p, projectID); err != nil {
			return err
		}
	}
	rows, err := s.pool.Query(ctx, `WITH query AS (SELECT websearch_to_tsquery('english', $3) AS q)
		SELECT `+clauseColumns+`, d.original_name, d.project_id,
			ts_rank(to_tsvector('english', c.text), query.q)::float8 AS rank
		FROM query, clauses c JOIN documents d ON d.id = c.document_id `+latestDecisionJoin+`
		WHERE to_tsvector('english', c.text) @@ query.q AND `+visibleDocs+`
		AND ($4 = '' OR d.project_id::text = $4)
		ORDER BY rank DESC, c.id LIMIT $5`, p.ID, p.admin(), q, projectID, limit)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (searchHit, error) {
		var h searchHit
		var rank float64
		var err error
		h.clauseJSON, err = scanClause(row, &h.DocumentName, &h.ProjectID, &rank)
		h.Rank = &rank
		return h, err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[searchHit]{Items: items, Total: int64(len(items))})
	return nil
}
