package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

type apiRule struct {
	ID        string `json:"id"`
	Category  string `json:"category"`
	Condition string `json:"condition"`
	Enabled   bool   `json:"enabled"`
	Position  int    `json:"position"`
}

// q is the JavaScript expression document.querySelector(css).
func q(css string) string { return fmt.Sprintf("document.querySelector(%q)", css) }

func rulesAPI(t *testing.T, token, path string) []apiRule {
	t.Helper()
	var res struct {
		Items []apiRule `json:"items"`
	}
	mustCall(t, http.StatusOK, "GET", path, token, nil, &res)
	return res.Items
}

// waitAnalysed uploads a file through the API and waits for the pipeline.
func waitAnalysed(t *testing.T, token, projectID, path string) string {
	t.Helper()
	if code := uploadAPI(t, token, projectID, path); code != http.StatusAccepted {
		t.Fatalf("upload: %d", code)
	}
	var docs struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"pipeline_status"`
		} `json:"items"`
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		mustCall(t, http.StatusOK, "GET", "/api/projects/"+projectID+"/documents", token, nil, &docs)
		if len(docs.Items) > 0 && (docs.Items[0].Status == "complete" || docs.Items[0].Status == "failed") {
			if docs.Items[0].Status != "complete" {
				t.Fatal("the analysis failed")
			}
			return docs.Items[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("the analysis did not finish")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// An admin edits the firm's playbook (add, edit, reorder, turn off), a
// project rule re-rates a category after a re-assessment, the negotiate
// form offers the rule's wording, and the project dashboard shows risks
// and key dates, exports them as a calendar and builds a project report.
func TestPlaybookEditorReassessNegotiateAndDashboard(t *testing.T) {
	admin := adminToken(t)
	projectID := createProject(t, admin, "Playbook matter")
	docID := waitAnalysed(t, admin, projectID, samplePDF(t))
	clauses := clausesOf(t, admin, docID)
	var category, oldRisk string
	for _, c := range clauses {
		if c.Category != "Other" {
			category, oldRisk = c.Category, c.RiskLevel
			break
		}
	}
	if category == "" {
		t.Fatal("the sample contract has no categorised clause")
	}
	newRisk := map[string]string{"low": "high", "medium": "high", "high": "low"}[oldRisk]

	b := newTab(t)
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")

	// The firm's playbook: add a rule.
	b.open("/playbook")
	b.waitFor("the rules", `document.querySelectorAll('#rules .rule').length > 20`, 60*time.Second)
	b.shot("20-playbook")
	before := rulesAPI(t, admin, "/api/playbook/rules")
	b.clickButton(".panel-actions", "Add rule")
	b.selectValue(`dialog select[name=category]`, category)
	b.typeInto(`dialog input[name=condition]`, "zzqq never matches")
	b.selectValue(`dialog select[name=risk_level]`, "high")
	b.typeInto(`dialog textarea[name=explanation]`, "A test position of the firm.")
	b.clickButton("dialog", "Save rule")
	b.waitFor("the new rule", fmt.Sprintf(`document.querySelectorAll('#rules .rule').length === %d`, len(before)+1), 60*time.Second)
	after := rulesAPI(t, admin, "/api/playbook/rules")
	at := slices.IndexFunc(after, func(r apiRule) bool { return r.Condition == "zzqq never matches" })
	if at < 0 || after[at].Category != category {
		t.Fatalf("the rule was not stored: %+v", after)
	}
	ruleID := after[at].ID
	sel := fmt.Sprintf(`#rules .rule[data-id=%q]`, ruleID)

	// Edit it.
	eval[any](b, q(sel+` .rule-tools button[aria-label^="Edit"]`)+`.click()`)
	b.waitFor("the edit form", `document.querySelector('dialog textarea[name=explanation]')`, 60*time.Second)
	eval[any](b, `document.querySelector('dialog textarea[name=explanation]').value = ''`)
	b.typeInto(`dialog textarea[name=explanation]`, "An edited position.")
	b.clickButton("dialog", "Save rule")
	b.waitFor("the edited rule", q(sel)+`.textContent.includes('An edited position.')`, 60*time.Second)

	// Reorder: one step up (or down when it is first).
	dir := "up"
	if at == 0 {
		dir = "down"
	}
	eval[any](b, q(sel+fmt.Sprintf(` button[aria-label^="Move"][aria-label$=%q]`, dir))+`.click()`)
	want := at - 1
	if dir == "down" {
		want = at + 1
	}
	b.waitFor("the moved rule", fmt.Sprintf(`[...document.querySelectorAll('#rules .rule')].findIndex((e) => e.dataset.id === %q) === %d`, ruleID, want), 60*time.Second)
	if moved := rulesAPI(t, admin, "/api/playbook/rules"); moved[want].ID != ruleID {
		t.Fatalf("the server's order does not have the rule at %d", want)
	}

	// Turn it off.
	eval[any](b, q(sel+` button[aria-label^="Turn off"]`)+`.click()`)
	b.waitFor("the rule turned off", q(sel+`[data-enabled=false] [data-off]`), 60*time.Second)
	if r := rulesAPI(t, admin, "/api/playbook/rules"); r[want].Enabled {
		t.Fatal("the rule is still enabled on the server")
	}

	// The audit log names who changed the playbook, and filters by it.
	b.open("/admin/audit")
	b.waitFor("the audit log", `document.querySelector('table, .empty')`, 60*time.Second)
	b.selectValue(`select[name=event_type]`, "playbook_rule_updated")
	b.waitFor("the playbook changes", `location.search.includes('event_type=playbook_rule_updated') && [...document.querySelectorAll('tbody tr')].some((r) => r.textContent.includes('admin@example.com'))`, 60*time.Second)

	// The project's own rule for the category, with wording, then a re-assessment.
	b.open("/projects/" + projectID + "/playbook")
	b.waitFor("the project's rules", `document.querySelectorAll('#rules .rule').length > 20`, 60*time.Second)
	b.clickButton(".panel-actions", "Add project rule")
	b.selectValue(`dialog select[name=category]`, category)
	b.selectValue(`dialog select[name=risk_level]`, newRisk)
	b.typeInto(`dialog textarea[name=explanation]`, "This client's own position.")
	b.typeInto(`dialog textarea[name=preferred_position]`, "Our preferred wording for this client.")
	b.typeInto(`dialog textarea[name=fallback_wording]`, "Our fallback wording for this client.")
	b.clickButton("dialog", "Save rule")
	b.waitFor("the project rule first", `document.querySelector('#rules .rule').dataset.scope === 'project'`, 60*time.Second)
	if got := clausesOf(t, admin, docID); got[0].Explanation == "This client's own position." {
		t.Fatal("clauses changed before the re-assessment")
	}
	b.clickButton(".panel-actions", "Re-assess this project")
	b.clickButton("dialog", "Re-assess")
	b.waitFor("the re-assessment", `document.querySelector('.reassess-box[data-status=complete]')`, 2*time.Minute)
	b.shot("21-project-playbook-reassessed")
	var target string
	for _, c := range clausesOf(t, admin, docID) {
		if c.Category == category {
			if c.RiskLevel != newRisk || c.Explanation != "This client's own position." {
				t.Fatalf("clause %s after the re-assessment: %+v, want %s", c.ID, c, newRisk)
			}
			target = c.ID
		}
	}

	// Negotiate: the playbook's wording goes into the comment.
	b.open("/documents/" + docID)
	card := fmt.Sprintf(`.clause[data-clause-id=%q]`, target)
	b.waitFor("the clause", q(card), 60*time.Second)
	eval[any](b, q(card+" .btn-negotiate")+`.click()`)
	b.waitFor("the playbook wording", q(card+" .wording[data-wording=preferred]"), 60*time.Second)
	if !strings.Contains(eval[string](b, q(card+" .playbook-wording")+`.textContent`), "Our fallback wording for this client.") {
		b.fail("the fallback wording is not offered")
	}
	eval[any](b, q(card+" .wording[data-wording=preferred] button")+`.click()`)
	if v := eval[string](b, q(card+" .decision-form textarea")+`.value`); v != "Our preferred wording for this client." {
		t.Fatalf("the comment is %q", v)
	}
	eval[any](b, q(card)+`.scrollIntoView({block: 'center'})`)
	b.viewportShot("22-negotiate-wording")
	eval[any](b, q(card+" .decision-form button[type=submit]")+`.click()`)
	b.waitFor("the decision", q(card+" .decision-line [data-decision=negotiate]"), 60*time.Second)

	// Key dates: the facts of a contract that renews automatically.
	end := time.Now().AddDate(0, 3, 0).Format(time.DateOnly)
	facts := `{"facts_version": 2, "expiration_date": "` + end + `", "details": {
		"expiration_date": {"value": "` + end + `", "kind": "date", "source": {"start": 0, "end": 5, "page": 2, "text": "The initial term ends on that date."}},
		"renewal_term": {"value": "successive one (1) year terms", "kind": "duration", "duration": "1 year", "source": {"start": 5, "end": 9, "text": "shall renew automatically for successive one (1) year terms unless either party gives notice"}},
		"notice_period": {"value": "thirty (30) days", "kind": "duration", "duration": "30 days", "unsure": true, "source": {"start": 9, "end": 12, "text": "thirty (30) days prior written notice"}}}}`
	if _, err := st.pool.Exec(context.Background(), `UPDATE documents SET facts = $2 WHERE id = $1`, docID, facts); err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Documents []struct {
			ID   string `json:"id"`
			High int    `json:"high"`
		} `json:"documents"`
		KeyDates []struct {
			Kind      string `json:"kind"`
			Date      string `json:"date"`
			Tentative bool   `json:"tentative"`
		} `json:"key_dates"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/projects/"+projectID+"/dashboard", admin, nil, &dash)
	if len(dash.KeyDates) != 2 || dash.KeyDates[1].Kind != "renewal" || dash.KeyDates[1].Date != end || !dash.KeyDates[0].Tentative {
		t.Fatalf("key dates: %+v", dash.KeyDates)
	}
	b.open("/projects/" + projectID + "/dashboard")
	row := fmt.Sprintf(`#dash-documents tr[data-id=%q]`, docID)
	b.waitFor("the dashboard", q(row)+` && document.querySelectorAll('#key-dates .key-date').length === 2`, 60*time.Second)
	if got := eval[string](b, q(row+" td[data-risk=high]")+`.textContent`); got != fmt.Sprint(dash.Documents[0].High) {
		t.Fatalf("the dashboard shows %s high-risk clauses, the API %d", got, dash.Documents[0].High)
	}
	if !eval[bool](b, `document.querySelector('#key-dates .key-date[data-tentative=true] .badge-warning') !== null`) {
		b.fail("the tentative notice deadline is not marked")
	}
	b.checkWording("the dashboard with key dates", projectID, docID)
	b.shot("23-dashboard")
	b.clickButton("#key-dates", "Download calendar (.ics)")
	data := b.waitDownload(".ics", 60*time.Second)
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("the downloaded calendar does not parse: %v\n%s", err, data)
	}
	if evs := cal.Events(); len(evs) != 2 {
		t.Fatalf("%d events in the calendar", len(evs))
	}

	// A project report of every document, named after the project.
	b.clickButton("#project-reports", "Generate project report")
	b.waitFor("the project report", `document.querySelector('#project-reports .report-item[data-status=complete]') || document.querySelector('#project-reports .report-item[data-status=failed]')`, 3*time.Minute)
	if s := eval[string](b, `document.querySelector('#project-reports .report-item').dataset.status`); s != "complete" {
		b.fail("the project report ended %s", s)
	}
	eval[any](b, `document.querySelector('#project-reports button[data-format=pdf]').click()`)
	pdf := b.waitDownload("Playbook matter report.pdf", 60*time.Second)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("the project report is not a PDF")
	}
}
