package backend_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// ruleIDs lists the ids of a rule list response, in order.
func ruleIDs(r *response) []string {
	var out []string
	for _, it := range r.items() {
		out = append(out, it["id"].(string))
	}
	return out
}

// auditDetails returns the detail objects of the events of one type, newest first.
func (e *env) auditDetails(eventType string) []map[string]any {
	e.t.Helper()
	r := e.do("GET", "/api/admin/audit?event_type="+eventType+"&limit=500", e.admin, nil).want(200)
	var out []map[string]any
	for _, it := range r.items() {
		d := it["detail"].(map[string]any)
		d["_email"] = it["email"]
		out = append(out, d)
	}
	return out
}

func (e *env) addMember(projectID, userID, role string) {
	e.t.Helper()
	e.do("PUT", "/api/projects/"+projectID+"/members/"+userID, e.admin, map[string]string{"role": role}).want(200)
}

// A member reads the playbook, a project admin edits only the project's
// rules, a system admin the installation's; every change is audited with
// who made it and what changed.
func TestPlaybookRolesAndAudit(t *testing.T) {
	e := newEnv(t)
	project := e.createProject(e.admin, "Playbook roles")
	lead := e.createUser("lead@example.com")
	member := e.createUser("member@example.com")
	outsider := e.createUser("outsider@example.com")
	e.addMember(project, lead.User["id"].(string), "admin")
	e.addMember(project, member.User["id"].(string), "viewer")

	// Everyone signed in reads the installation playbook (the seeded defaults).
	list := e.do("GET", "/api/playbook/rules", member.Access, nil).want(200)
	if n := len(list.items()); n < 30 {
		t.Fatalf("installation playbook has %d rules", n)
	}
	first := list.items()[0]
	if first["position"].(float64) != 1 || first["scope"] != "installation" {
		t.Fatalf("first rule: %v", first)
	}
	var capRule map[string]any
	for _, it := range list.items() {
		if it["category"] == "Cap on Liability" && it["condition"] == "" {
			capRule = it
		}
	}
	if capRule == nil || capRule["preferred_position"] == "" || capRule["fallback_wording"] == "" {
		t.Fatalf("the default cap rule has no wording: %v", capRule)
	}

	rule := map[string]any{"category": "Exclusivity", "condition": "worldwide", "risk_level": "high",
		"explanation": "Worldwide exclusivity is out of policy.", "preferred_position": "Non-exclusive.", "fallback_wording": "Exclusive in the Territory only."}
	// Only system admins write installation rules.
	for _, tok := range []string{lead.Access, member.Access} {
		e.do("POST", "/api/playbook/rules", tok, rule).want(403)
	}
	created := e.do("POST", "/api/playbook/rules", e.admin, rule).want(201)
	ruleID := created.str("id")
	e.do("PATCH", "/api/playbook/rules/"+ruleID, lead.Access, map[string]any{"risk_level": "low"}).want(403)
	e.do("DELETE", "/api/playbook/rules/"+ruleID, member.Access, nil).want(403)

	// Bad input is refused with a reason and changes nothing.
	for _, bad := range []map[string]any{
		{"category": "Exclusivity", "risk_level": "severe", "explanation": "x"},
		{"category": "Not a category", "risk_level": "high", "explanation": "x"},
		{"category": "Exclusivity", "condition": "(", "risk_level": "high", "explanation": "x"},
		{"category": "Exclusivity", "risk_level": "high"},
	} {
		if r := e.do("POST", "/api/playbook/rules", e.admin, bad).want(422); r.detail() == "" {
			t.Errorf("%v: no reason", bad)
		}
	}
	e.do("PATCH", "/api/playbook/rules/"+ruleID, e.admin, map[string]any{"condition": "[z-a]"}).want(422)

	// The admin's edit is audited with the changed fields only.
	up := e.do("PATCH", "/api/playbook/rules/"+ruleID, e.admin, map[string]any{"risk_level": "medium", "explanation": "Worldwide exclusivity needs a partner's approval."}).want(200)
	if up.str("risk_level") != "medium" || up.str("condition") != "worldwide" || up.str("preferred_position") != "Non-exclusive." {
		t.Fatalf("updated rule: %s", up.body)
	}
	ev := e.auditDetails("playbook_rule_updated")
	if len(ev) != 1 || ev[0]["rule_id"] != ruleID || ev[0]["_email"] != adminEmail {
		t.Fatalf("update audit: %v", ev)
	}
	before, after := ev[0]["before"].(map[string]any), ev[0]["after"].(map[string]any)
	if before["risk_level"] != "high" || after["risk_level"] != "medium" || after["explanation"] != "Worldwide exclusivity needs a partner's approval." ||
		len(before) != 2 || len(after) != 2 {
		t.Fatalf("update audit before %v after %v", before, after)
	}
	if c := e.auditDetails("playbook_rule_created"); len(c) != 1 || c[0]["after"].(map[string]any)["condition"] != "worldwide" {
		t.Fatalf("create audit: %v", c)
	}
	if n := e.auditCount("permission_denied"); n < 4 {
		t.Errorf("%d permission denials audited, want the 4 refused writes", n)
	}

	// The project admin writes the project's rules; members read them; others do not see them.
	prule := map[string]any{"category": "Audit Rights", "risk_level": "high", "explanation": "This client never accepts audits."}
	e.do("POST", "/api/projects/"+project+"/playbook/rules", member.Access, prule).want(403)
	e.do("POST", "/api/projects/"+project+"/playbook/rules", outsider.Access, prule).want(404)
	e.do("GET", "/api/projects/"+project+"/playbook/rules", outsider.Access, nil).want(404)
	pr := e.do("POST", "/api/projects/"+project+"/playbook/rules", lead.Access, prule).want(201)
	if pr.str("scope") != "project" || pr.json["project_id"] != project {
		t.Fatalf("project rule: %s", pr.body)
	}
	e.do("PATCH", "/api/playbook/rules/"+pr.str("id"), member.Access, map[string]any{"enabled": false}).want(403)
	e.do("PATCH", "/api/playbook/rules/"+pr.str("id"), outsider.Access, map[string]any{"enabled": false}).want(404)
	e.do("PATCH", "/api/playbook/rules/"+pr.str("id"), lead.Access, map[string]any{"enabled": false}).want(200)
	got := e.do("GET", "/api/projects/"+project+"/playbook/rules", member.Access, nil).want(200).items()
	if got[0]["id"] != pr.str("id") || got[0]["enabled"] != false {
		t.Fatalf("project playbook: %v", got[0])
	}
	ev = e.auditDetails("playbook_rule_updated")
	if len(ev) != 2 || ev[0]["_email"] != "lead@example.com" || ev[0]["project_id"] != project ||
		ev[0]["after"].(map[string]any)["enabled"] != false {
		t.Fatalf("project update audit: %v", ev)
	}
	e.do("DELETE", "/api/playbook/rules/"+pr.str("id"), lead.Access, nil).want(204)
	if d := e.auditDetails("playbook_rule_deleted"); len(d) != 1 || d[0]["before"].(map[string]any)["category"] != "Audit Rights" {
		t.Fatalf("delete audit: %v", d)
	}
	// Re-assessment: admins for the installation, project admins for their project.
	e.do("POST", "/api/playbook/reassessments", lead.Access, nil).want(403)
	e.do("POST", "/api/projects/"+project+"/playbook/reassessments", member.Access, nil).want(403)
	ra := e.do("POST", "/api/projects/"+project+"/playbook/reassessments", lead.Access, nil).want(202)
	e.do("GET", "/api/playbook/reassessments/"+ra.str("id"), member.Access, nil).want(200)
	e.do("GET", "/api/playbook/reassessments/"+ra.str("id"), outsider.Access, nil).want(404)
	all := e.do("POST", "/api/playbook/reassessments", e.admin, nil).want(202)
	e.do("GET", "/api/playbook/reassessments/"+all.str("id"), lead.Access, nil).want(404)
	if items := e.do("GET", "/api/projects/"+project+"/playbook/reassessments", member.Access, nil).want(200).items(); len(items) != 1 {
		t.Fatalf("project re-assessments: %v", items)
	}
	if !slices.ContainsFunc(e.queued(), func(j queue.Job) bool { return j.Kind == "reassess" && j.ID == all.str("id") }) {
		t.Fatalf("the re-assessment was not queued for the worker: %v", e.queued())
	}
}

// Reordering needs every rule once; a new rule goes before its category's
// catch-all so it is tried first; disabling keeps the rule in the list.
func TestPlaybookReorderAndDisable(t *testing.T) {
	e := newEnv(t)
	ids := ruleIDs(e.do("GET", "/api/playbook/rules", e.admin, nil).want(200))
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	r := e.do("PUT", "/api/playbook/order", e.admin, map[string]any{"rule_ids": rev}).want(200)
	if got := ruleIDs(r); !slices.Equal(got, rev) {
		t.Fatalf("order after reorder: %v", got)
	}
	if got := ruleIDs(e.do("GET", "/api/playbook/rules", e.admin, nil).want(200)); !slices.Equal(got, rev) {
		t.Fatal("the new order was not kept")
	}
	e.do("PUT", "/api/playbook/order", e.admin, map[string]any{"rule_ids": rev[1:]}).want(422)
	e.do("PUT", "/api/playbook/order", e.admin, map[string]any{"rule_ids": append(rev[1:], rev[1])}).want(422)
	if ev := e.auditDetails("playbook_reordered"); len(ev) != 1 || len(ev[0]["after"].([]any)) != len(ids) {
		t.Fatalf("reorder audit: %v", ev)
	}

	// Back in the original order, a specific rule lands before the catch-all.
	e.do("PUT", "/api/playbook/order", e.admin, map[string]any{"rule_ids": ids}).want(200)
	nr := e.do("POST", "/api/playbook/rules", e.admin, map[string]any{"category": "Exclusivity", "condition": "territory",
		"risk_level": "low", "explanation": "Territorial exclusivity is fine."}).want(201).str("id")
	list := e.do("GET", "/api/playbook/rules", e.admin, nil).want(200).items()
	at := slices.IndexFunc(list, func(it map[string]any) bool { return it["id"] == nr })
	if at < 0 || at+1 >= len(list) || list[at+1]["category"] != "Exclusivity" || list[at+1]["condition"] != "" {
		t.Fatalf("new rule at %d, next %v", at, list[min(at+1, len(list)-1)])
	}
	e.do("PATCH", "/api/playbook/rules/"+nr, e.admin, map[string]any{"enabled": false}).want(200)
	list = e.do("GET", "/api/playbook/rules", e.admin, nil).want(200).items()
	if list[at]["id"] != nr || list[at]["enabled"] != false {
		t.Fatalf("disabled rule: %v", list[at])
	}
}

// A project's additions come first, its overrides replace the rule they
// override (only in that project), and the wording offered for a clause
// follows.
func TestProjectPlaybookOverridePrecedence(t *testing.T) {
	e := newEnv(t)
	pa := e.createProject(e.admin, "Client A")
	pb := e.createProject(e.admin, "Client B")
	inst := e.do("GET", "/api/playbook/rules", e.admin, nil).want(200).items()
	var excl string
	for _, it := range inst {
		if it["category"] == "Exclusivity" && it["condition"] == "" {
			excl = it["id"].(string)
		}
	}
	e.do("PATCH", "/api/playbook/rules/"+excl, e.admin, map[string]any{"preferred_position": "Firm: non-exclusive."}).want(200)
	over := e.do("POST", "/api/projects/"+pa+"/playbook/rules", e.admin, map[string]any{"overrides_rule_id": excl,
		"risk_level": "low", "preferred_position": "Client A accepts exclusivity in the Territory."}).want(201)
	if over.str("category") != "Exclusivity" || over.str("explanation") == "" || over.json["overrides_rule_id"] != excl {
		t.Fatalf("override copies the rule: %s", over.body)
	}
	e.do("POST", "/api/projects/"+pa+"/playbook/rules", e.admin, map[string]any{"overrides_rule_id": excl, "risk_level": "high"}).want(409)
	e.do("PATCH", "/api/playbook/rules/"+over.str("id"), e.admin, map[string]any{"category": "Audit Rights"}).want(422)
	e.do("POST", "/api/projects/"+pa+"/playbook/rules", e.admin, map[string]any{"overrides_rule_id": over.str("id")}).want(422)
	add := e.do("POST", "/api/projects/"+pa+"/playbook/rules", e.admin, map[string]any{"category": "Governing Law",
		"condition": "new york", "risk_level": "medium", "explanation": "Client A litigates in Delaware."}).want(201).str("id")

	merged := e.do("GET", "/api/projects/"+pa+"/playbook/rules", e.admin, nil).want(200).items()
	if merged[0]["id"] != add || merged[0]["position"].(float64) != 1 {
		t.Fatalf("the project's addition is not first: %v", merged[0])
	}
	if len(merged) != len(inst)+1 {
		t.Fatalf("merged list has %d rules, want %d", len(merged), len(inst)+1)
	}
	i := slices.IndexFunc(merged, func(it map[string]any) bool { return it["category"] == "Exclusivity" && it["condition"] == "" })
	j := slices.IndexFunc(inst, func(it map[string]any) bool { return it["id"] == excl })
	if merged[i]["id"] != over.str("id") || i != j+1 {
		t.Fatalf("override at %d (%v), installation rule at %d", i, merged[i]["id"], j)
	}
	if other := e.do("GET", "/api/projects/"+pb+"/playbook/rules", e.admin, nil).want(200).items(); other[j]["id"] != excl {
		t.Fatal("another project sees the override")
	}

	// The negotiate wording for an exclusivity clause in each project.
	ctx := context.Background()
	clause := func(project string) string {
		var doc, id string
		if err := e.db.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key, pipeline_status)
			VALUES ($1, 'c.pdf', 'pdf', 1, 'x', 'documents/x/original', 'complete') RETURNING id`, project).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		if err := e.db.QueryRow(ctx, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level)
			VALUES ($1, 1, 'Exclusivity', 'Distributor is the exclusive distributor in the Territory.', 'high') RETURNING id`, doc).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	position := func(clauseID string) map[string]any {
		r := e.do("GET", "/api/clauses/"+clauseID+"/playbook-position", e.admin, nil).want(200)
		rule, _ := r.json["rule"].(map[string]any)
		return rule
	}
	ca, cb := clause(pa), clause(pb)
	if r := position(ca); r == nil || r["preferred_position"] != "Client A accepts exclusivity in the Territory." || r["scope"] != "project" {
		t.Fatalf("project A's wording: %v", r)
	}
	if r := position(cb); r == nil || r["preferred_position"] != "Firm: non-exclusive." || r["scope"] != "installation" {
		t.Fatalf("project B's wording: %v", r)
	}
	// Turning the override off turns the rule off in project A only.
	e.do("PATCH", "/api/playbook/rules/"+over.str("id"), e.admin, map[string]any{"enabled": false}).want(200)
	if r := position(ca); r != nil {
		t.Fatalf("a disabled override still offers wording: %v", r)
	}
	// Deleting the installation rule deletes the overrides of it.
	e.do("DELETE", "/api/playbook/rules/"+excl, e.admin, nil).want(204)
	e.do("PATCH", "/api/playbook/rules/"+over.str("id"), e.admin, map[string]any{"enabled": true}).want(404)
	d := e.auditDetails("playbook_rule_deleted")
	if b, _ := json.Marshal(d); len(d) != 1 || d[0]["project_overrides_deleted"].(float64) != 1 {
		t.Fatalf("delete audit: %s", b)
	}
}
