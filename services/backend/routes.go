package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// access is who may call a route.
type access int

const (
	public         access = iota // no token
	authAny                      // any signed-in user, even with must_change_password
	authUser                     // any signed-in user whose password is settled
	authAdmin                    // system admins
	infrastructure               // health, metrics, the OpenAPI document: no token, not described by it
)

// route is one operation: the mux pattern, the access rule, and what the
// OpenAPI document says about it. Body and Result are values of the Go
// types the handler decodes and encodes (their schemas are generated from
// the types); query parameters are named in the summary, "(?q=&limit=)".
type route struct {
	Method  string
	Path    string
	Access  access
	Tag     string
	Summary string
	Status  int // success status
	Body    any // request body type (nil = none)
	Result  any // response body type, or a fileResponse (nil = none)
	h       handlerFunc
}

func (s *Server) routeTable() []route {
	return []route{
		{"POST", "/api/auth/login", public, "auth", "Sign in with email and password", 200, loginRequest{}, tokenResponse{}, s.handleLogin},
		{"POST", "/api/auth/refresh", public, "auth", "Exchange a refresh token for new tokens (rotation)", 200, refreshRequest{}, tokenResponse{}, s.handleRefresh},
		{"POST", "/api/auth/logout", public, "auth", "Sign out of one session (refresh token family; its access tokens end too)", 204, logoutRequest{}, nil, s.handleLogout},
		{"POST", "/api/auth/logout-all", authAny, "auth", "Sign out everywhere: every session and access token of the caller ends", 204, nil, nil, s.handleLogoutAll},
		{"POST", "/api/auth/change-password", authAny, "auth", "Change the caller's password", 200, changePasswordRequest{}, tokenResponse{}, s.handleChangePassword},
		{"GET", "/api/auth/me", authAny, "auth", "The signed-in user", 200, nil, userJSON{}, s.handleMe},

		{"GET", "/api/users", authAdmin, "users", "List users (?limit=&offset=)", 200, nil, page[userJSON]{}, s.handleListUsers},
		{"POST", "/api/users", authAdmin, "users", "Create a user (must change password)", 201, createUserRequest{}, userJSON{}, s.handleCreateUser},
		{"PATCH", "/api/users/{id}", authAdmin, "users", "Update name, role or disabled", 200, updateUserRequest{}, userJSON{}, s.handleUpdateUser},
		{"POST", "/api/users/{id}/reset-password", authAdmin, "users", "Set a new password (must change)", 204, resetPasswordRequest{}, nil, s.handleResetPassword},
		{"GET", "/api/users/lookup", authUser, "users", "Find a user by email, for adding members (?email=)", 200, nil, userRef{}, s.handleLookupUser},

		{"GET", "/api/projects", authUser, "projects", "Projects visible to the caller (?limit=&offset=)", 200, nil, page[projectJSON]{}, s.handleListProjects},
		{"POST", "/api/projects", authUser, "projects", "Create a project (creator becomes project admin)", 201, projectRequest{}, projectJSON{}, s.handleCreateProject},
		{"GET", "/api/projects/{id}", authUser, "projects", "Get a project", 200, nil, projectJSON{}, s.handleGetProject},
		{"PATCH", "/api/projects/{id}", authUser, "projects", "Update a project (project admin)", 200, projectRequest{}, projectJSON{}, s.handleUpdateProject},
		{"DELETE", "/api/projects/{id}", authUser, "projects", "Delete a project and its documents (project admin)", 204, nil, nil, s.handleDeleteProject},
		{"GET", "/api/projects/{id}/members", authUser, "projects", "Project members", 200, nil, page[memberJSON]{}, s.handleListMembers},
		{"PUT", "/api/projects/{id}/members/{user_id}", authUser, "projects", "Add or change a member (project admin)", 200, memberRequest{}, memberJSON{}, s.handlePutMember},
		{"DELETE", "/api/projects/{id}/members/{user_id}", authUser, "projects", "Remove a member (project admin)", 204, nil, nil, s.handleDeleteMember},
		{"GET", "/api/projects/{id}/documents", authUser, "documents", "Documents of a project (?limit=&offset=)", 200, nil, page[documentJSON]{}, s.handleListDocuments},
		{"GET", "/api/projects/{id}/events", authUser, "documents", "Live pipeline progress of the project's documents (server-sent events: ready, document, end)", 200, nil, eventStream, s.handleProjectEvents},

		{"POST", "/api/documents", authUser, "documents", "Upload a document (multipart: project_id, then file)", 202, uploadForm{}, documentJSON{}, s.handleUpload},
		{"GET", "/api/documents/{id}", authUser, "documents", "Get a document with its pipeline status", 200, nil, documentJSON{}, s.handleGetDocument},
		{"GET", "/api/documents/{id}/file", authUser, "documents", "Download the original file", 200, nil, documentFile, s.handleDownloadDocument},
		{"DELETE", "/api/documents/{id}", authUser, "documents", "Delete a document and its file", 204, nil, nil, s.handleDeleteDocument},
		{"POST", "/api/documents/{id}/reprocess", authUser, "documents", "Run the pipeline again", 202, nil, documentJSON{}, s.handleReprocess},
		{"GET", "/api/documents/{id}/pages", authUser, "viewer", "The document's pages (images and word boxes where the worker rendered them)", 200, nil, pagesJSON{}, s.handleDocumentPages},
		{"GET", "/api/documents/{id}/pages/{page}/image", authUser, "viewer", "Image of one page", 200, nil, pageImageFile, s.handleDocumentPageImage},
		{"GET", "/api/documents/{id}/highlight", authUser, "viewer", "Where a passage of the extracted text lies on the pages (?start=&end=)", 200, nil, highlightJSON{}, s.handleDocumentHighlight},
		{"GET", "/api/documents/{id}/text", authUser, "viewer", "The extracted text (clause and fact offsets count its bytes)", 200, nil, textFile, s.handleDocumentText},
		{"GET", "/api/documents/{id}/clauses", authUser, "clauses", "Clauses of a document (?category=&risk=)", 200, nil, page[clauseJSON]{}, s.handleListClauses},
		{"GET", "/api/documents/{id}/decisions", authUser, "clauses", "Decisions on a document's clauses", 200, nil, page[decisionJSON]{}, s.handleDocumentDecisions},
		{"POST", "/api/clauses/{id}/decisions", authUser, "clauses", "Record a decision on a clause", 201, decisionRequest{}, decisionJSON{}, s.handleCreateDecision},
		{"GET", "/api/clauses/{id}/decisions", authUser, "clauses", "Decision history of a clause", 200, nil, page[decisionJSON]{}, s.handleClauseDecisions},
		{"GET", "/api/clauses/{id}/similar", authUser, "search", "Similar clauses in visible documents (?limit=)", 200, nil, page[searchHit]{}, s.handleSimilar},
		{"GET", "/api/search", authUser, "search", "Full-text clause search (?q=&project_id=&limit=)", 200, nil, page[searchHit]{}, s.handleSearch},

		{"POST", "/api/documents/{id}/reports", authUser, "reports", "Request a report", 202, nil, reportJSON{}, s.handleCreateReport},
		{"GET", "/api/documents/{id}/reports", authUser, "reports", "Reports of a document", 200, nil, page[reportJSON]{}, s.handleListReports},
		{"POST", "/api/projects/{id}/reports", authUser, "reports", "Request a report of every document of a project (editor)", 202, nil, reportJSON{}, s.handleCreateProjectReport},
		{"GET", "/api/projects/{id}/reports", authUser, "reports", "Reports of a project", 200, nil, page[reportJSON]{}, s.handleListProjectReports},
		{"GET", "/api/projects/{id}/dashboard", authUser, "projects", "A project's documents with risk counts and outstanding decisions, and its key dates", 200, nil, dashboardJSON{}, s.handleProjectDashboard},
		{"GET", "/api/projects/{id}/key-dates", authUser, "projects", "Renewal and notice deadlines of a project's contracts, by date", 200, nil, page[keyDateJSON]{}, s.handleProjectKeyDates},
		{"GET", "/api/projects/{id}/key-dates.ics", authUser, "projects", "The key dates as an iCalendar file (tentative dates marked)", 200, nil, calendarFile, s.handleProjectCalendar},
		{"GET", "/api/reports/{id}", authUser, "reports", "Get a report", 200, nil, reportJSON{}, s.handleGetReport},
		{"GET", "/api/reports/{id}/download", authUser, "reports", "Download a report (?format=html|pdf)", 200, nil, reportFile, s.handleDownloadReport},

		{"GET", "/api/playbook/rules", authUser, "playbook", "The installation's playbook rules, in the order they are tried", 200, nil, page[playbookRuleJSON]{}, s.handleListPlaybookRules},
		{"POST", "/api/playbook/rules", authAdmin, "playbook", "Add an installation rule (before its category's catch-all rule)", 201, playbookRuleRequest{}, playbookRuleJSON{}, s.handleCreatePlaybookRule},
		{"PATCH", "/api/playbook/rules/{id}", authUser, "playbook", "Change or disable a rule (installation rules: admins; project rules: project admins)", 200, playbookRuleRequest{}, playbookRuleJSON{}, s.handleUpdatePlaybookRule},
		{"DELETE", "/api/playbook/rules/{id}", authUser, "playbook", "Delete a rule (with the projects' overrides of it)", 204, nil, nil, s.handleDeletePlaybookRule},
		{"PUT", "/api/playbook/order", authAdmin, "playbook", "Reorder the installation's rules", 200, playbookOrderRequest{}, page[playbookRuleJSON]{}, s.handleOrderPlaybook},
		{"GET", "/api/playbook/categories", authUser, "playbook", "The categories a rule may name", 200, nil, playbookCategoriesJSON{}, s.handlePlaybookCategories},
		{"POST", "/api/playbook/reassessments", authAdmin, "playbook", "Re-assess the clauses of every project's documents with the current playbook", 202, nil, reassessmentJSON{}, s.handleCreateReassessment},
		{"GET", "/api/playbook/reassessments", authAdmin, "playbook", "The latest installation-wide re-assessments", 200, nil, page[reassessmentJSON]{}, s.handleListReassessments},
		{"GET", "/api/playbook/reassessments/{id}", authUser, "playbook", "A re-assessment and its progress", 200, nil, reassessmentJSON{}, s.handleGetReassessment},
		{"GET", "/api/projects/{id}/playbook/rules", authUser, "playbook", "The playbook a project's clauses are assessed against: its own rules first, then the installation's with its overrides in place", 200, nil, page[playbookRuleJSON]{}, s.handleListProjectPlaybook},
		{"POST", "/api/projects/{id}/playbook/rules", authUser, "playbook", "Add a project rule, or override an installation rule for the project (project admin)", 201, playbookRuleRequest{}, playbookRuleJSON{}, s.handleCreateProjectPlaybookRule},
		{"PUT", "/api/projects/{id}/playbook/order", authUser, "playbook", "Reorder the project's own rules (project admin)", 200, playbookOrderRequest{}, page[playbookRuleJSON]{}, s.handleOrderProjectPlaybook},
		{"POST", "/api/projects/{id}/playbook/reassessments", authUser, "playbook", "Re-assess the project's documents with its current playbook (project admin)", 202, nil, reassessmentJSON{}, s.handleCreateProjectReassessment},
		{"GET", "/api/projects/{id}/playbook/reassessments", authUser, "playbook", "The project's latest re-assessments", 200, nil, page[reassessmentJSON]{}, s.handleListProjectReassessments},
		{"GET", "/api/clauses/{id}/playbook-position", authUser, "playbook", "The playbook's preferred position and fallback wording for a clause", 200, nil, clausePositionJSON{}, s.handleClausePosition},

		{"GET", "/api/settings", authUser, "settings", "Upload settings", 200, nil, settingsJSON{}, s.handleGetSettings},
		{"PUT", "/api/admin/settings", authAdmin, "settings", "Change upload settings", 200, settingsJSON{}, settingsJSON{}, s.handlePutSettings},
		{"GET", "/api/admin/ai-providers", authAdmin, "ai", "AI providers (keys are never returned)", 200, nil, page[providerJSON]{}, s.handleListProviders},
		{"POST", "/api/admin/ai-providers", authAdmin, "ai", "Add an AI provider", 201, providerRequest{}, providerJSON{}, s.handleCreateProvider},
		{"PATCH", "/api/admin/ai-providers/{id}", authAdmin, "ai", "Update an AI provider", 200, providerRequest{}, providerJSON{}, s.handleUpdateProvider},
		{"DELETE", "/api/admin/ai-providers/{id}", authAdmin, "ai", "Delete an AI provider", 204, nil, nil, s.handleDeleteProvider},
		{"POST", "/api/admin/ai-providers/{id}/test", authAdmin, "ai", "Test the provider connection", 200, nil, providerTestJSON{}, s.handleTestProvider},
		{"GET", "/api/admin/ai-capabilities", authAdmin, "ai", "Capability to provider mapping", 200, nil, capabilitiesJSON{}, s.handleGetCapabilities},
		{"PUT", "/api/admin/ai-capabilities", authAdmin, "ai", "Change the capability mapping", 200, capabilitiesJSON{}, capabilitiesJSON{}, s.handlePutCapabilities},
		{"GET", "/api/admin/audit", authAdmin, "admin", "Audit log (?event_type=&limit=&offset=)", 200, nil, page[auditEventJSON]{}, s.handleAudit},

		{"GET", "/api/openapi.json", infrastructure, "meta", "This OpenAPI document", 200, nil, nil, s.handleOpenAPI},
		{"GET", "/healthz", infrastructure, "meta", "Liveness", 200, nil, nil, s.handleHealthz},
		{"GET", "/readyz", infrastructure, "meta", "Readiness: PostgreSQL reachable (Redis reported; the API degrades without it)", 200, nil, nil, s.handleReadyz},
	}
}

// Routes lists "METHOD /path" of every registered operation.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for _, rt := range s.routes {
		out = append(out, rt.Method+" "+rt.Path)
	}
	return out
}

func (s *Server) buildHandler() http.Handler {
	s.routes = s.routeTable()
	doc, err := s.openAPIDocument()
	if err == nil {
		s.openapi, err = json.Marshal(doc)
	}
	if err != nil {
		panic(fmt.Sprintf("openapi document: %v", err)) // static data: a programming error (TestOpenAPI* catch it)
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.Method+" "+rt.Path, s.guard(rt))
	}
	mux.Handle("/api/", s.adapt(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
	return s.observe(securityHeaders(s.cors(mux)))
}

// guard applies the route's access rule: authentication, the
// must_change_password gate, the admin check and the per-user API rate limit.
func (s *Server) guard(rt route) http.Handler {
	h := s.adapt(rt.h)
	if rt.Access == public || rt.Access == infrastructure {
		return h
	}
	return s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r, s.cfg.RateLimitAPIPerMinute)
		if err != nil {
			return err
		}
		ctx := r.Context()
		if p.MustChange && rt.Access != authAny {
			return errMustChange
		}
		if rt.Access == authAdmin && !p.admin() {
			s.audit(ctx, auditEvent{Type: "permission_denied", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
				Detail: map[string]any{"method": r.Method, "route": rt.Path}})
			return errForbidden
		}
		h.ServeHTTP(w, r.WithContext(withPrincipal(ctx, p)))
		return nil
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := s.pool.Ping(ctx); err != nil {
		checks["postgres"], status = "unreachable", http.StatusServiceUnavailable
	}
	// Without Redis the API degrades (no per-user limits; sign-in and
	// uploads answer 503) but still serves: stay ready.
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		checks["redis"] = "unreachable"
	}
	writeJSON(w, status, checks)
	return nil
}

// denied records a permission denial for the audit log.
func (s *Server) denied(r *http.Request, what string) error {
	p := caller(r)
	ev := auditEvent{Type: "permission_denied", IP: s.clientIP(r), Detail: map[string]any{"action": what, "path": r.URL.Path}}
	if p != nil {
		ev.UserID, ev.Email = p.ID, p.Email
	}
	s.audit(r.Context(), ev)
	return errForbidden
}
