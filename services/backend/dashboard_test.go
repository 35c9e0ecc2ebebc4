package backend_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// What the worker writes for an analysed contract whose term ends in
// endsIn, with a 90-day notice period (unsure when noticeUnsure).
func factsWithTerm(end time.Time, noticeUnsure bool) string {
	unsure := ""
	if noticeUnsure {
		unsure = `, "unsure": true`
	}
	return `{"facts_version": 2, "expiration_date": "` + end.Format(time.DateOnly) + `", "details": {
		"expiration_date": {"value": "` + end.Format(time.DateOnly) + `", "kind": "date", "source": {"start": 0, "end": 10, "page": 3, "text": "The term ends on that date."}},
		"notice_period": {"value": "ninety (90) days", "kind": "duration", "duration": "90 days"` + unsure + `, "source": {"start": 20, "end": 40, "page": 4, "text": "ninety (90) days prior written notice"}}}}`
}

// The dashboard counts each document's clauses by risk and the decisions
// still to take, and lists the key dates, which export as iCalendar.
func TestProjectDashboardKeyDatesAndCalendar(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, `Acme / Beta: "Supply"`)
	viewer := e.createUser("viewer@example.com")
	outsider := e.createUser("outsider@example.com")
	e.addMember(p, viewer.User["id"].(string), "viewer")
	a := e.upload(e.admin, p, "Supply Agreement.pdf", pdfBytes).want(202).str("id")
	b := e.upload(e.admin, p, "Side Letter.pdf", pdfBytes).want(202).str("id")
	pending := e.upload(e.admin, p, "Draft.pdf", pdfBytes).want(202).str("id")
	now := time.Now().UTC()
	endA, endB := now.AddDate(1, 0, 0), now.AddDate(2, 0, 0)
	e.exec(`UPDATE documents SET pipeline_status = 'complete', progress = 100, facts = $2, completed_at = now() WHERE id = $1`, a, factsWithTerm(endA, false))
	e.exec(`UPDATE documents SET pipeline_status = 'complete', progress = 100, facts = $2, completed_at = now() WHERE id = $1`, b, factsWithTerm(endB, true))
	e.exec(`INSERT INTO clauses (document_id, ordinal, category, text, risk_level) VALUES
		($1, 1, 'Exclusivity', 'Exclusive.', 'high'), ($1, 2, 'Cap on Liability', 'Capped.', 'medium'),
		($1, 3, 'Governing Law', 'Texas.', 'low'), ($1, 4, 'Other', 'Headings.', 'low'),
		($2, 1, 'Audit Rights', 'Audits.', 'high')`, a, b)
	e.exec(`INSERT INTO clause_decisions (clause_id, decision) SELECT id, 'accept' FROM clauses WHERE document_id = $1 AND ordinal IN (1, 3)`, a)

	e.do("GET", "/api/projects/"+p+"/dashboard", outsider.Access, nil).want(404)
	dash := e.do("GET", "/api/projects/"+p+"/dashboard", viewer.Access, nil).want(200)
	docs := map[string]map[string]any{}
	for _, d := range dash.json["documents"].([]any) {
		m := d.(map[string]any)
		docs[m["id"].(string)] = m
	}
	num := func(m map[string]any, k string) int { return int(m[k].(float64)) }
	if da := docs[a]; num(da, "high") != 1 || num(da, "medium") != 1 || num(da, "low") != 2 || num(da, "decided") != 2 ||
		num(da, "outstanding") != 2 || num(da, "outstanding_high_medium") != 1 {
		t.Fatalf("document A: %v", da)
	}
	if dp := docs[pending]; dp["pipeline_status"] != "queued" || num(dp, "high")+num(dp, "outstanding") != 0 {
		t.Fatalf("pending document: %v", dp)
	}
	tot := dash.json["totals"].(map[string]any)
	if num(tot, "documents") != 3 || num(tot, "complete") != 2 || num(tot, "high") != 2 || num(tot, "outstanding") != 3 || num(tot, "outstanding_high_medium") != 2 {
		t.Fatalf("totals: %v", tot)
	}
	kd := dash.json["key_dates"].([]any)
	if len(kd) != 4 {
		t.Fatalf("key dates: %v", kd)
	}
	first := kd[0].(map[string]any)
	if first["kind"] != "notice" || first["document_id"] != a || first["date"] != endA.AddDate(0, 0, -90).Format(time.DateOnly) ||
		first["tentative"] != false || first["source_page"].(float64) != 4 {
		t.Fatalf("first key date: %v", first)
	}
	if third := kd[2].(map[string]any); third["document_id"] != b || third["kind"] != "notice" || third["tentative"] != true {
		t.Fatalf("B's notice deadline rests on an unsure period and must be tentative: %v", third)
	}
	if l := e.do("GET", "/api/projects/"+p+"/key-dates", viewer.Access, nil).want(200).items(); len(l) != 4 || l[0]["date"] != first["date"] {
		t.Fatalf("key dates list: %v", l)
	}

	cal := e.do("GET", "/api/projects/"+p+"/key-dates.ics", viewer.Access, nil).want(200)
	if !strings.HasPrefix(cal.header.Get("Content-Type"), "text/calendar") ||
		cal.header.Get("Content-Disposition") != `attachment; filename="Acme - Beta- Supply key dates.ics"` {
		t.Fatalf("calendar headers: %v", cal.header)
	}
	parsed, err := ical.NewDecoder(strings.NewReader(string(cal.body))).Decode()
	if err != nil {
		t.Fatalf("parse the calendar: %v\n%s", err, cal.body)
	}
	events := parsed.Events()
	if len(events) != 4 {
		t.Fatalf("%d events", len(events))
	}
	var uids []string
	for _, ev := range events {
		uid, _ := ev.Props.Text(ical.PropUID)
		uids = append(uids, uid)
		status, _ := ev.Props.Text(ical.PropStatus)
		if (status == "TENTATIVE") != strings.HasPrefix(uid, b+"-notice") {
			t.Errorf("%s: STATUS %s", uid, status)
		}
	}
	for _, want := range []string{a + "-notice@contract-lucidity", a + "-expiration@contract-lucidity", b + "-expiration@contract-lucidity"} {
		if !slices.Contains(uids, want) {
			t.Errorf("no event %s in %v", want, uids)
		}
	}
	// Stable UIDs: a second export names the same events.
	again, _ := ical.NewDecoder(strings.NewReader(string(e.do("GET", "/api/projects/"+p+"/key-dates.ics", viewer.Access, nil).want(200).body))).Decode()
	for i, ev := range again.Events() {
		if uid, _ := ev.Props.Text(ical.PropUID); uid != uids[i] {
			t.Errorf("UID %d changed: %s -> %s", i, uids[i], uid)
		}
	}
}

// Project reports: editors request them, members read them; downloads are
// named after the project or the document; deleting the project trashes
// the report's files.
func TestProjectReportsAndDownloadNames(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Acme: renewal review")
	viewer := e.createUser("viewer@example.com")
	e.addMember(p, viewer.User["id"].(string), "viewer")
	doc := e.upload(e.admin, p, "Master Services Agreement.pdf", pdfBytes).want(202).str("id")

	e.do("POST", "/api/projects/"+p+"/reports", viewer.Access, nil).want(403)
	rep := e.do("POST", "/api/projects/"+p+"/reports", e.admin, nil).want(202)
	repID := rep.str("id")
	if rep.json["project_id"] != p || rep.json["document_id"] != nil ||
		!slices.ContainsFunc(e.queued(), func(j queue.Job) bool { return j.Kind == queue.KindReport && j.ID == repID }) {
		t.Fatalf("project report: %s", rep.body)
	}
	docRep := e.do("POST", "/api/documents/"+doc+"/reports", e.admin, nil).want(202).str("id")
	complete := func(id, format string) {
		os.MkdirAll(filepath.Join(e.cfg.StoragePath, "reports"), 0o755)
		os.WriteFile(filepath.Join(e.cfg.StoragePath, "reports", id+"."+format), []byte("report "+id), 0o644)
		e.exec(`UPDATE document_reports SET status = 'complete', `+format+`_key = $2, completed_at = now() WHERE id = $1`, id, "reports/"+id+"."+format)
	}
	complete(repID, "pdf")
	complete(docRep, "pdf")
	if l := e.do("GET", "/api/projects/"+p+"/reports", viewer.Access, nil).want(200).items(); len(l) != 1 || l[0]["id"] != repID {
		t.Fatalf("project reports: %v", l)
	}
	if l := e.do("GET", "/api/documents/"+doc+"/reports", viewer.Access, nil).want(200).items(); len(l) != 1 || l[0]["id"] != docRep {
		t.Fatalf("document reports: %v", l)
	}
	dl := e.do("GET", "/api/reports/"+repID+"/download?format=pdf", viewer.Access, nil).want(200)
	if got := dl.header.Get("Content-Disposition"); got != `attachment; filename="Acme- renewal review report.pdf"` {
		t.Fatalf("project report name: %s", got)
	}
	dl = e.do("GET", "/api/reports/"+docRep+"/download?format=pdf", viewer.Access, nil).want(200)
	if got := dl.header.Get("Content-Disposition"); got != `attachment; filename="Master Services Agreement report.pdf"` {
		t.Fatalf("document report name: %s", got)
	}
	outsider := e.createUser("outsider@example.com")
	e.do("GET", "/api/reports/"+repID, outsider.Access, nil).want(404)

	e.do("DELETE", "/api/projects/"+p, e.admin, nil).want(204)
	if _, err := os.Stat(filepath.Join(e.cfg.StoragePath, "reports", repID+".pdf")); !os.IsNotExist(err) {
		t.Fatalf("project report file survived: %v", err)
	}
	if trashed, _ := filepath.Glob(filepath.Join(e.cfg.StoragePath, "trash", "*-"+p+"-*", "reports", repID+".pdf")); len(trashed) != 1 {
		t.Fatalf("project report file not in the trash: %v", trashed)
	}
}
