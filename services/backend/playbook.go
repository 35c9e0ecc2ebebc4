package backend

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/playbook"
)

// The playbook: system admins edit the installation's rules, project admins
// their project's additions and overrides, members read. Every change is
// audited with the fields it changed, before and after.

type playbookRuleJSON struct {
	ID                string    `json:"id" format:"uuid"`
	Scope             string    `json:"scope" enum:"installation,project"`
	ProjectID         *string   `json:"project_id" format:"uuid"`
	OverridesRuleID   *string   `json:"overrides_rule_id" format:"uuid"`
	Position          int       `json:"position"` // 1-based place in the list it came in; 0 for a rule returned alone
	Category          string    `json:"category"`
	Condition         string    `json:"condition"` // case-insensitive regular expression on the clause text; empty: every clause of the category
	RiskLevel         string    `json:"risk_level" enum:"low,medium,high"`
	Explanation       string    `json:"explanation"`
	PreferredPosition string    `json:"preferred_position"`
	FallbackWording   string    `json:"fallback_wording"`
	Enabled           bool      `json:"enabled"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func ruleJSON(r playbook.Rule, position int) playbookRuleJSON {
	scope := "project"
	if r.Installation() {
		scope = "installation"
	}
	return playbookRuleJSON{ID: r.ID, Scope: scope, ProjectID: r.ProjectID, OverridesRuleID: r.OverridesRuleID, Position: position,
		Category: r.Category, Condition: r.Condition, RiskLevel: r.Risk, Explanation: r.Explanation,
		PreferredPosition: r.PreferredPosition, FallbackWording: r.FallbackWording, Enabled: r.Enabled, UpdatedAt: r.UpdatedAt}
}

func rulePage(rules []playbook.Rule) page[playbookRuleJSON] {
	items := make([]playbookRuleJSON, len(rules))
	for i, r := range rules {
		items[i] = ruleJSON(r, i+1)
	}
	return page[playbookRuleJSON]{Items: items, Total: int64(len(items))}
}

// playbookRuleRequest creates a rule (category, risk_level and explanation
// required, unless it overrides a rule: then what is missing is copied) or
// changes the fields present.
type playbookRuleRequest struct {
	Category          *string `json:"category,omitempty"`
	Condition         *string `json:"condition,omitempty"`
	RiskLevel         *string `json:"risk_level,omitempty" enum:"low,medium,high"`
	Explanation       *string `json:"explanation,omitempty"`
	PreferredPosition *string `json:"preferred_position,omitempty"`
	FallbackWording   *string `json:"fallback_wording,omitempty"`
	Enabled           *bool   `json:"enabled,omitempty"`
	// OverridesRuleID (project rules, on creation): the installation rule
	// this rule replaces in the project.
	OverridesRuleID *string `json:"overrides_rule_id,omitempty" format:"uuid"`
}

// apply sets the fields present on r, trimmed, and validates the result.
func (in *playbookRuleRequest) apply(r *playbook.Rule) error {
	set := func(dst *string, v *string, max int, name string) error {
		if v == nil {
			return nil
		}
		s := strings.TrimSpace(*v)
		if len(s) > max {
			return unprocessable("%s is too long (at most %d characters)", name, max)
		}
		*dst = s
		return nil
	}
	for _, f := range []struct {
		dst  *string
		v    *string
		max  int
		name string
	}{
		{&r.Category, in.Category, 100, "category"}, {&r.Condition, in.Condition, 1000, "condition"},
		{&r.Risk, in.RiskLevel, 10, "risk_level"}, {&r.Explanation, in.Explanation, 2000, "explanation"},
		{&r.PreferredPosition, in.PreferredPosition, 5000, "preferred_position"}, {&r.FallbackWording, in.FallbackWording, 5000, "fallback_wording"},
	} {
		if err := set(f.dst, f.v, f.max, f.name); err != nil {
			return err
		}
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	if err := playbook.Validate(*r); err != nil {
		return unprocessable("%s", err.Error())
	}
	return nil
}

// auditFields are the audited fields of a rule (nothing in a rule is secret).
func auditFields(r playbook.Rule) map[string]any {
	return map[string]any{"category": r.Category, "condition": r.Condition, "risk_level": r.Risk, "explanation": r.Explanation,
		"preferred_position": r.PreferredPosition, "fallback_wording": r.FallbackWording, "enabled": r.Enabled}
}

// changedFields returns the fields that differ, as before and after.
func changedFields(before, after playbook.Rule) (map[string]any, map[string]any) {
	b, a := auditFields(before), auditFields(after)
	for k := range b {
		if b[k] == a[k] {
			delete(b, k)
			delete(a, k)
		}
	}
	return b, a
}

func (s *Server) auditPlaybook(r *http.Request, event string, detail map[string]any) {
	p := caller(r)
	s.audit(r.Context(), auditEvent{Type: event, UserID: p.ID, Email: p.Email, IP: s.clientIP(r), Detail: detail})
}

// lockScope serialises changes to one list (the installation's, or a project's).
func lockScope(ctx context.Context, tx pgx.Tx, projectID string) error {
	scope := "installation"
	if projectID != "" {
		scope = projectID
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('playbook:' || $1, 7241))`, scope)
	return err
}

// ordered is the list whose order a scope's priorities define: the
// installation's rules, or a project's additions (overrides take the place
// of the rule they override).
func ordered(ctx context.Context, tx pgx.Tx, projectID string) ([]playbook.Rule, error) {
	if projectID == "" {
		return playbook.Installation(ctx, tx)
	}
	own, err := playbook.ProjectRules(ctx, tx, projectID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(own, func(r playbook.Rule) bool { return r.OverridesRuleID != nil }), nil
}

// renumber stores the order of ids as dense priorities.
func renumber(ctx context.Context, tx pgx.Tx, ids []string) error {
	_, err := tx.Exec(ctx, `UPDATE playbook_rules r SET priority = o.n * 10
		FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, n) WHERE r.id = o.id AND r.priority <> o.n * 10`, ids)
	return err
}

// insertAt is where a new rule goes in its list: before the catch-all rule
// (empty condition) of its category, so it is tried first, else last.
func insertAt(list []playbook.Rule, r playbook.Rule) int {
	for i, x := range list {
		if x.Category == r.Category && x.Condition == "" && r.Condition != "" {
			return i
		}
	}
	return len(list)
}

func ruleIDs(rules []playbook.Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.ID
	}
	return out
}

func (s *Server) handleListPlaybookRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := playbook.Installation(r.Context(), s.pool)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rulePage(rules))
	return nil
}

type playbookCategoriesJSON struct {
	Items []string `json:"items"`
}

func (s *Server) handlePlaybookCategories(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, playbookCategoriesJSON{Items: playbook.Categories()})
	return nil
}

func (s *Server) handleListProjectPlaybook(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "", "")
	if err != nil {
		return err
	}
	rules, err := playbook.ForProject(r.Context(), s.pool, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rulePage(rules))
	return nil
}

func (s *Server) handleCreatePlaybookRule(w http.ResponseWriter, r *http.Request) error {
	return s.createRule(w, r, "")
}

func (s *Server) handleCreateProjectPlaybookRule(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "admin", "edit project playbook")
	if err != nil {
		return err
	}
	return s.createRule(w, r, id)
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request, projectID string) error {
	ctx := r.Context()
	var in playbookRuleRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	rule := playbook.Rule{Enabled: true}
	if in.OverridesRuleID != nil {
		if projectID == "" {
			return unprocessable("overrides_rule_id is for project rules")
		}
		if !validUUID(*in.OverridesRuleID) {
			return unprocessable("overrides_rule_id must be the id of an installation rule")
		}
	} else if in.Category == nil || in.RiskLevel == nil || in.Explanation == nil {
		return unprocessable("category, risk_level and explanation are required")
	}
	var created playbook.Rule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockScope(ctx, tx, projectID); err != nil {
			return err
		}
		if in.OverridesRuleID != nil {
			base, err := playbook.Scan(tx.QueryRow(ctx, `SELECT `+playbook.Columns+` FROM playbook_rules
				WHERE id = $1 AND project_id IS NULL`, *in.OverridesRuleID))
			if errors.Is(err, pgx.ErrNoRows) {
				return unprocessable("overrides_rule_id must be the id of an installation rule")
			}
			if err != nil {
				return err
			}
			rule = base
		}
		if err := in.apply(&rule); err != nil {
			return err
		}
		list, err := ordered(ctx, tx, projectID)
		if err != nil {
			return err
		}
		var project any
		if projectID != "" {
			project = projectID
		}
		created, err = playbook.Scan(tx.QueryRow(ctx, `INSERT INTO playbook_rules (project_id, overrides_rule_id, category, pattern,
				risk_level, explanation, preferred_position, fallback_wording, enabled, priority, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10) RETURNING `+playbook.Columns,
			project, in.OverridesRuleID, rule.Category, rule.Condition, rule.Risk, rule.Explanation,
			rule.PreferredPosition, rule.FallbackWording, rule.Enabled, caller(r).ID))
		if err != nil {
			if isUniqueViolation(err) {
				return errStatus(http.StatusConflict, "this project already overrides that rule")
			}
			return err
		}
		if in.OverridesRuleID != nil {
			return nil // takes the overridden rule's place
		}
		ids := ruleIDs(list)
		at := insertAt(list, rule)
		ids = slices.Insert(ids, at, created.ID)
		created.Priority = (at + 1) * 10
		return renumber(ctx, tx, ids)
	})
	if err != nil {
		return err
	}
	s.auditPlaybook(r, "playbook_rule_created", map[string]any{"rule_id": created.ID, "project_id": created.ProjectID,
		"overrides_rule_id": created.OverridesRuleID, "after": auditFields(created)})
	writeJSON(w, http.StatusCreated, ruleJSON(created, 0))
	return nil
}

// ruleForChange loads a rule and checks the caller may change it: an
// installation rule needs a system admin, a project rule a project admin.
func (s *Server) ruleForChange(r *http.Request, tx pgx.Tx, action string) (playbook.Rule, error) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return playbook.Rule{}, err
	}
	rule, err := playbook.Scan(tx.QueryRow(ctx, `SELECT `+playbook.Columns+` FROM playbook_rules WHERE id = $1`, id))
	if err != nil {
		return rule, err
	}
	p := caller(r)
	if rule.Installation() {
		if !p.admin() {
			return rule, s.denied(r, action)
		}
		return rule, nil
	}
	role, err := s.projectRole(ctx, p, *rule.ProjectID)
	if err != nil {
		return rule, err
	}
	return rule, s.require(r, role, "admin", action)
}

func (s *Server) handleUpdatePlaybookRule(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in playbookRuleRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.OverridesRuleID != nil {
		return unprocessable("overrides_rule_id cannot be changed; delete the override and create another")
	}
	var before, after playbook.Rule
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if before, err = s.ruleForChange(r, tx, "edit playbook rule"); err != nil {
			return err
		}
		if before.OverridesRuleID != nil && in.Category != nil && strings.TrimSpace(*in.Category) != before.Category {
			return unprocessable("an override keeps the category of the rule it overrides")
		}
		after = before
		if err := in.apply(&after); err != nil {
			return err
		}
		after, err = playbook.Scan(tx.QueryRow(ctx, `UPDATE playbook_rules SET category = $2, pattern = $3, risk_level = $4,
				explanation = $5, preferred_position = $6, fallback_wording = $7, enabled = $8, updated_by = $9, updated_at = now()
			WHERE id = $1 RETURNING `+playbook.Columns,
			before.ID, after.Category, after.Condition, after.Risk, after.Explanation, after.PreferredPosition,
			after.FallbackWording, after.Enabled, caller(r).ID))
		return err
	})
	if err != nil {
		return err
	}
	b, a := changedFields(before, after)
	if len(a) > 0 {
		s.auditPlaybook(r, "playbook_rule_updated", map[string]any{"rule_id": after.ID, "project_id": after.ProjectID,
			"category": after.Category, "before": b, "after": a})
	}
	writeJSON(w, http.StatusOK, ruleJSON(after, 0))
	return nil
}

func (s *Server) handleDeletePlaybookRule(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var before playbook.Rule
	var overrides int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if before, err = s.ruleForChange(r, tx, "delete playbook rule"); err != nil {
			return err
		}
		// Projects' overrides of an installation rule go with it.
		tag, err := tx.Exec(ctx, `DELETE FROM playbook_rules WHERE overrides_rule_id = $1`, before.ID)
		if err != nil {
			return err
		}
		overrides = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM playbook_rules WHERE id = $1`, before.ID)
		return err
	})
	if err != nil {
		return err
	}
	s.auditPlaybook(r, "playbook_rule_deleted", map[string]any{"rule_id": before.ID, "project_id": before.ProjectID,
		"overrides_rule_id": before.OverridesRuleID, "before": auditFields(before), "project_overrides_deleted": overrides})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// playbookOrderRequest is the new order of a list: every rule id of it,
// each once.
type playbookOrderRequest struct {
	RuleIDs []string `json:"rule_ids"`
}

func (s *Server) handleOrderPlaybook(w http.ResponseWriter, r *http.Request) error {
	return s.orderRules(w, r, "")
}

func (s *Server) handleOrderProjectPlaybook(w http.ResponseWriter, r *http.Request) error {
	id, err := s.authorize(r, s.projectRole, "admin", "edit project playbook")
	if err != nil {
		return err
	}
	return s.orderRules(w, r, id)
}

func (s *Server) orderRules(w http.ResponseWriter, r *http.Request, projectID string) error {
	ctx := r.Context()
	var in playbookOrderRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	for i, id := range in.RuleIDs {
		in.RuleIDs[i] = strings.ToLower(id)
	}
	var before []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockScope(ctx, tx, projectID); err != nil {
			return err
		}
		list, err := ordered(ctx, tx, projectID)
		if err != nil {
			return err
		}
		before = ruleIDs(list)
		want, got := slices.Sorted(slices.Values(before)), slices.Sorted(slices.Values(in.RuleIDs))
		if !slices.Equal(want, got) {
			return unprocessable("rule_ids must list every rule of the playbook once (%d rules)", len(before))
		}
		return renumber(ctx, tx, in.RuleIDs)
	})
	if err != nil {
		return err
	}
	if !slices.Equal(before, in.RuleIDs) {
		detail := map[string]any{"before": before, "after": in.RuleIDs}
		if projectID != "" {
			detail["project_id"] = projectID
		}
		s.auditPlaybook(r, "playbook_reordered", detail)
	}
	rules, err := playbook.ForProject(ctx, s.pool, projectID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rulePage(rules))
	return nil
}

// clausePositionJSON is what a reviewer negotiating a clause is offered:
// the playbook rule with the firm's preferred position and fallback
// wording for it, or null when the playbook has none.
type clausePositionJSON struct {
	Rule *playbookRuleJSON `json:"rule"`
}

func (s *Server) handleClausePosition(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := s.authorize(r, s.clauseRole, "", "")
	if err != nil {
		return err
	}
	var projectID, category, text string
	if err := s.pool.QueryRow(ctx, `SELECT d.project_id, c.category, c.text FROM clauses c JOIN documents d ON d.id = c.document_id
		WHERE c.id = $1`, id).Scan(&projectID, &category, &text); err != nil {
		return err
	}
	rules, err := playbook.ForProject(ctx, s.pool, projectID)
	if err != nil {
		return err
	}
	out := clausePositionJSON{}
	compiled, _ := playbook.Compile(rules)
	if rule, ok := compiled.Position(category, text); ok {
		pos := slices.IndexFunc(rules, func(x playbook.Rule) bool { return x.ID == rule.ID }) + 1
		j := ruleJSON(rule, pos)
		out.Rule = &j
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
