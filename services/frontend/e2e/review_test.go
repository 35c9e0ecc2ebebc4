package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/pages"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

// adamsGolf is a 13-page CUAD contract: clauses on many pages.
const adamsGolf = "ADAMSGOLFINC_03_21_2005-EX-10.17-ENDORSEMENT_AGREEMENT.pdf"

func cuadPDF(t *testing.T, name string) string {
	t.Helper()
	dir, err := fixtures.CUADDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "pdf", name)
}

type apiClause struct {
	ID          string `json:"id"`
	Ordinal     int    `json:"ordinal"`
	Heading     string `json:"heading"`
	Category    string `json:"category"`
	Text        string `json:"text"`
	RiskLevel   string `json:"risk_level"`
	Explanation string `json:"explanation"`
	Likelihood  string `json:"likelihood"`
	StartOffset *int   `json:"start_offset"`
	EndOffset   *int   `json:"end_offset"`
	PageStart   *int   `json:"page_start"`
	PageEnd     *int   `json:"page_end"`
}

type apiDocument struct {
	ID             string         `json:"id"`
	ProjectID      string         `json:"project_id"`
	PipelineStatus string         `json:"pipeline_status"`
	Facts          map[string]any `json:"facts"`
}

// waitComplete polls the API until the document is analyzed.
func waitComplete(t *testing.T, token, id string) apiDocument {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var d apiDocument
		mustCall(t, http.StatusOK, "GET", "/api/documents/"+id, token, nil, &d)
		if d.PipelineStatus == "complete" {
			return d
		}
		if d.PipelineStatus == "failed" || time.Now().After(deadline) {
			t.Fatalf("document %s: %s", id, d.PipelineStatus)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func documentIDs(t *testing.T, token, project string) []string {
	t.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/projects/"+project+"/documents", token, nil, &page)
	var out []string
	for _, d := range page.Items {
		out = append(out, d.ID)
	}
	return out
}

// uploadAndWait uploads a file to the project and waits for its analysis.
func uploadAndWait(t *testing.T, token, project, path string) string {
	t.Helper()
	before := map[string]bool{}
	for _, id := range documentIDs(t, token, project) {
		before[id] = true
	}
	if code := uploadAPI(t, token, project, path); code != http.StatusAccepted {
		t.Fatalf("upload %s: %d", filepath.Base(path), code)
	}
	for _, id := range documentIDs(t, token, project) {
		if !before[id] {
			waitComplete(t, token, id)
			return id
		}
	}
	t.Fatal("the uploaded document is not listed")
	return ""
}

var (
	reviewOnce    sync.Once
	reviewProject string
	reviewDoc     string // the Adams Golf endorsement agreement, analyzed
	reviewErr     string
)

// reviewedDocument is a CUAD contract analyzed once for the tests of this
// file (the pipeline takes a while).
func reviewedDocument(t *testing.T) (project, doc string) {
	t.Helper()
	reviewOnce.Do(func() {
		admin := adminToken(t)
		reviewProject = createProject(t, admin, "Endorsements")
		reviewDoc = uploadAndWait(t, admin, reviewProject, cuadPDF(t, adamsGolf))
	})
	if reviewDoc == "" {
		t.Fatalf("the shared document could not be analyzed %s", reviewErr)
	}
	return reviewProject, reviewDoc
}

func clausesOf(t *testing.T, token, doc string) []apiClause {
	t.Helper()
	var page struct {
		Items []apiClause `json:"items"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/documents/"+doc+"/clauses", token, nil, &page)
	return page.Items
}

// signedInAdmin is a browser signed in as the (settled) admin.
func signedInAdmin(t *testing.T) *tab {
	t.Helper()
	b := newTab(t)
	b.signIn(adminEmail, st.adminPassword)
	b.waitPath("/projects")
	return b
}

func (b *tab) openDocument(doc string) {
	b.t.Helper()
	b.open("/documents/" + doc)
	b.waitFor("the clauses and facts", `document.querySelectorAll('.clause').length > 0 && document.querySelector('#facts')`, 60*time.Second)
}

func (b *tab) key(k string) {
	b.t.Helper()
	named := map[string]string{"Escape": kb.Escape, "ArrowRight": kb.ArrowRight, "ArrowLeft": kb.ArrowLeft, "Tab": kb.Tab}
	if v, ok := named[k]; ok {
		k = v
	}
	b.do("press "+k, chromedp.KeyEvent(k))
}

// viewerPage waits for the viewer to show a page image and returns its number.
func (b *tab) viewerPage() int {
	b.t.Helper()
	b.waitFor("the page image", `document.querySelector('dialog[open] figure.viewer-page[data-ready=true] img')`, 60*time.Second)
	return eval[int](b, `Number(document.querySelector('dialog[open] figure.viewer-page').dataset.page)`)
}

// Each fact names the clause and page it was read from: the clause link
// shows that clause (opening its group), the page link the original page.
// Unsure facts read as candidates to check; parties are names with roles.
func TestFactsLinkToTheirClauseAndPage(t *testing.T) {
	_, doc := reviewedDocument(t)
	admin := adminToken(t)
	var d apiDocument
	mustCall(t, http.StatusOK, "GET", "/api/documents/"+doc, admin, nil, &d)
	b := signedInAdmin(t)
	b.openDocument(doc)

	links := eval[[]int](b, `[...document.querySelectorAll('#facts a.fact-clause')].map((a) => Number(a.dataset.clause))`)
	if len(links) < 3 {
		b.fail("only %d facts link to a clause: %s", len(links), b.pageText())
	}
	// Follow every link: the clause gets focus, visible, even in a collapsed group.
	opened := false
	for i, ord := range links {
		collapsed := eval[bool](b, fmt.Sprintf(`document.querySelector('#clause-%d').closest('.clause-group').dataset.open !== 'true'`, ord))
		eval[chromedp.Void](b, fmt.Sprintf(`document.querySelectorAll('#facts a.fact-clause')[%d].click()`, i))
		b.waitFor(fmt.Sprintf("clause %d focused", ord), fmt.Sprintf(`document.activeElement && document.activeElement.id === 'clause-%d' && document.activeElement.offsetParent !== null`, ord), 20*time.Second)
		opened = opened || collapsed
	}
	t.Logf("%d fact links followed (a collapsed group opened: %v)", len(links), opened)

	// Parties: legal names, with their roles.
	parties, _ := d.Facts["party_details"].([]any)
	if len(parties) == 0 {
		t.Fatalf("no parties in the facts: %v", d.Facts)
	}
	partyText := eval[string](b, `document.querySelector('#facts .party-list').textContent`)
	for _, p := range parties {
		pm := p.(map[string]any)
		if !strings.Contains(partyText, pm["name"].(string)) {
			t.Errorf("party %q not shown: %s", pm["name"], partyText)
		}
		if role, _ := pm["role"].(string); role != "" && !strings.Contains(partyText, "— "+role) {
			t.Errorf("role %q of %q not shown: %s", role, pm["name"], partyText)
		}
	}

	// A page link opens the original page the fact was read from.
	details := d.Facts["details"].(map[string]any)
	for _, name := range []string{"governing_law", "document_name", "effective_date", "agreement_date"} {
		det, ok := details[name].(map[string]any)
		if !ok {
			continue
		}
		src := det["source"].(map[string]any)
		page := int(src["page"].(float64))
		eval[chromedp.Void](b, fmt.Sprintf(`document.querySelector('#facts dd[data-fact=%s] .fact-page').click()`, name))
		if got := b.viewerPage(); got != page {
			b.fail("the %s source opens page %d, want %d", name, got, page)
		}
		if n := eval[int](b, `document.querySelectorAll('dialog[open] rect.hl-box').length`); n == 0 {
			b.fail("the %s source is not highlighted on page %d", name, page)
		}
		b.key("Escape")
		b.waitFor("the viewer closed", `!document.querySelector('dialog[open]')`, 20*time.Second)
		break
	}

	// An unsure fact is a candidate to check, not a value.
	exp, ok := details["expiration_date"].(map[string]any)
	if !ok {
		exp = map[string]any{"value": "2026-06-30", "kind": "date", "source": details["document_name"].(map[string]any)["source"]}
	}
	exp["value"], exp["kind"], exp["unsure"] = "2021-06-30", "date", true
	details["expiration_date"] = exp
	d.Facts["expiration_date"] = ""
	if _, err := st.pool.Exec(context.Background(), `UPDATE documents SET facts = $2 WHERE id = $1`, doc, d.Facts); err != nil {
		t.Fatal(err)
	}
	b.openDocument(doc)
	text := eval[string](b, `document.querySelector('#facts dd[data-fact=expiration_date]').textContent`)
	want := "possibly " + eval[string](b, `new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeZone: 'UTC'}).format(new Date(Date.UTC(2021, 5, 30)))`) + " — check"
	if !strings.Contains(text, want) || eval[int](b, `document.querySelectorAll('#facts [data-unsure=true]').length`) != 1 {
		b.fail("the unsure expiration date reads %q, want %q", text, want)
	}
}

// wordBoxes returns the boxes (page fractions) of the first occurrence of
// the word sequence on the PDF's page, from pdftotext -bbox-layout; nil if
// the page does not have them as separate words.
func wordBoxes(t *testing.T, pdf string, page int, words []string) []pages.Box {
	t.Helper()
	n := strconv.Itoa(page)
	out, err := exec.Command("pdftotext", "-bbox-layout", "-f", n, "-l", n, pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	src, err := pages.ParseBBoxLayout(bytes.NewReader(out))
	if err != nil || len(src) != 1 {
		t.Fatalf("bbox: %v", err)
	}
	var all []pages.SourceWord
	for _, l := range src[0].Lines {
		all = append(all, l.Words...)
	}
	for i := range all {
		if i+len(words) > len(all) {
			break
		}
		match := true
		for k, w := range words {
			match = match && all[i+k].Text == w
		}
		if match {
			var out []pages.Box
			for _, w := range all[i : i+len(words)] {
				out = append(out, pages.Box{X0: w.X0 / src[0].Width, Y0: w.Y0 / src[0].Height, X1: w.X1 / src[0].Width, Y1: w.Y1 / src[0].Height})
			}
			return out
		}
	}
	return nil
}

// overlap is the area of a ∩ b.
func overlap(a, b pages.Box) float64 {
	w := min(a.X1, b.X1) - max(a.X0, b.X0)
	h := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// A clause's "Show in document" opens the original page it starts on with
// the clause highlighted: the highlight covers the clause's words as
// pdftotext places them on that page.
func TestViewerShowsTheClauseHighlightedOnItsPage(t *testing.T) {
	_, doc := reviewedDocument(t)
	admin := adminToken(t)
	// The stored text's words (the PDF's words: offsets count its bytes).
	req, _ := http.NewRequest("GET", st.url+"/api/documents/"+doc+"/text", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A classified clause from page 3 on whose first words pdftotext
	// places as separate words (not "1.[*****]", which it splits in two).
	var clause *apiClause
	var words []string
	var expect []pages.Box
	for _, c := range clausesOf(t, admin, doc) {
		if c.PageStart == nil || *c.PageStart < 3 || c.Category == "Other" || c.StartOffset == nil {
			continue
		}
		words = strings.Fields(string(full[*c.StartOffset:*c.EndOffset]))
		if len(words) < 20 {
			continue
		}
		words = words[:3]
		if expect = wordBoxes(t, cuadPDF(t, adamsGolf), *c.PageStart, words); expect != nil {
			clause = &c
			break
		}
	}
	if clause == nil {
		t.Fatal("no classified clause from page 3 on")
	}
	b := signedInAdmin(t)
	b.openDocument(doc)
	eval[chromedp.Void](b, fmt.Sprintf(`document.querySelector('#clause-%d .btn-view').click()`, clause.Ordinal))
	if got := b.viewerPage(); got != *clause.PageStart {
		b.fail("clause %d opens page %d, want %d", clause.Ordinal, got, *clause.PageStart)
	}
	// The highlight boxes, as fractions of the page image on the screen.
	boxes := eval[[]pages.Box](b, `(() => {
		const img = document.querySelector('dialog[open] .viewer-img').getBoundingClientRect();
		return [...document.querySelectorAll('dialog[open] rect.hl-box')].map((r) => {
			const b = r.getBoundingClientRect();
			return {x0: (b.left - img.left) / img.width, y0: (b.top - img.top) / img.height, x1: (b.right - img.left) / img.width, y1: (b.bottom - img.top) / img.height};
		});
	})()`)
	if len(boxes) == 0 {
		b.fail("no highlight on the page")
	}
	covered := 0
	for _, w := range expect {
		area := (w.X1 - w.X0) * (w.Y1 - w.Y0)
		for _, hb := range boxes {
			if overlap(w, hb) >= 0.8*area {
				covered++
				break
			}
		}
	}
	if covered != len(expect) {
		b.fail("the highlight %v covers %d of the clause's first words %q at %v", boxes, covered, words, expect)
	}
	status := eval[string](b, `document.querySelector('dialog[open] .viewer-status').textContent`)
	if !strings.Contains(status, fmt.Sprintf("Page %d of 13", *clause.PageStart)) {
		b.fail("viewer status %q", status)
	}
	b.viewportShot("09-viewer")
	// Arrow keys turn the pages; Escape closes the viewer.
	b.key("ArrowRight")
	b.waitFor("the next page", fmt.Sprintf(`document.querySelector('dialog[open] figure.viewer-page[data-page="%d"][data-ready=true]')`, *clause.PageStart+1), 60*time.Second)
	b.key("Escape")
	b.waitFor("the viewer closed", `!document.querySelector('dialog[open]')`, 20*time.Second)
}

// A Word document has no pages: the viewer says so and marks the clause in
// the extracted text.
func TestViewerShowsWordDocumentsAsText(t *testing.T) {
	project, _ := reviewedDocument(t)
	admin := adminToken(t)
	docx, err := fixtures.SampleDOCX()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "Master services agreement.docx")
	if err := os.WriteFile(path, docx, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := uploadAndWait(t, admin, project, path)
	var law apiClause
	for _, c := range clausesOf(t, admin, doc) {
		if strings.Contains(c.Text, "governed by") {
			law = c
		}
	}
	if law.ID == "" {
		t.Fatal("no governing law clause")
	}
	b := signedInAdmin(t)
	b.openDocument(doc)
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const c = document.querySelector('#clause-%d'); const g = c.closest('.clause-group'); if (g.dataset.open !== 'true') g.querySelector('.group-toggle').click(); c.querySelector('.btn-view').click(); })()`, law.Ordinal))
	b.waitFor("the marked text", `document.querySelector('dialog[open] .viewer-text mark')`, 60*time.Second)
	mark := eval[string](b, `document.querySelector('dialog[open] .viewer-text mark').textContent`)
	if !strings.Contains(strings.Join(strings.Fields(mark), " "), fixtures.DOCXGoverningLaw) {
		b.fail("marked %q, want the governing law clause", mark)
	}
	if note := eval[string](b, `document.querySelector('dialog[open] .viewer-note').textContent`); !strings.Contains(note, "Word document has no fixed pages") {
		b.fail("the viewer does not say why there is no page: %q", note)
	}
}

// Clauses are grouped by category, risky groups first, "Other" last and
// collapsed; j / k move between clauses, v shows the current one.
func TestClauseGroupsAndKeyboardNavigation(t *testing.T) {
	_, doc := reviewedDocument(t)
	admin := adminToken(t)
	clauses := clausesOf(t, admin, doc)
	b := signedInAdmin(t)
	b.openDocument(doc)

	type group struct {
		Category string   `json:"category"`
		Open     bool     `json:"open"`
		Risks    []string `json:"risks"`
		Visible  int      `json:"visible"`
	}
	groups := eval[[]group](b, `[...document.querySelectorAll('.clause-group')].map((g) => ({
		category: g.dataset.category, open: g.dataset.open === 'true',
		risks: [...g.querySelectorAll('.clause')].map((c) => c.dataset.risk),
		visible: [...g.querySelectorAll('.clause')].filter((c) => c.offsetParent !== null).length}))`)
	rank := map[string]int{"high": 0, "medium": 1, "low": 2}
	worst := func(rs []string) int {
		w := 3
		for _, r := range rs {
			w = min(w, rank[r])
		}
		return w
	}
	total, others := 0, 0
	for i, g := range groups {
		total += len(g.Risks)
		if g.Category == "Other" {
			others++
			if i != len(groups)-1 || g.Open || g.Visible != 0 {
				b.fail("Other: position %d of %d, open %v, %d clauses visible", i, len(groups), g.Open, g.Visible)
			}
			continue
		}
		if !g.Open || g.Visible != len(g.Risks) {
			b.fail("group %s: open %v, %d of %d visible", g.Category, g.Open, g.Visible, len(g.Risks))
		}
		if i > 0 && groups[i-1].Category != "Other" && worst(groups[i-1].Risks) > worst(g.Risks) {
			b.fail("group %s (worst %d) after %s (worst %d): risky groups must come first", g.Category, worst(g.Risks), groups[i-1].Category, worst(groups[i-1].Risks))
		}
	}
	// Groups are kinds of clauses: never a value ("Document Name", "Parties").
	for _, g := range groups {
		if g.Category != "Other" && !analysis.IsClauseType(g.Category) {
			b.fail("group %q is not a clause category", g.Category)
		}
	}
	if opts := eval[[]string](b, `[...document.querySelectorAll('select[name=category] option')].map((o) => o.value).filter(Boolean)`); len(opts) != len(groups) {
		b.fail("the category filter offers %v for %d groups", opts, len(groups))
	}
	if total != len(clauses) || others != 1 {
		b.fail("%d clauses in groups (API %d), %d Other groups", total, len(clauses), others)
	}
	// Clean numbering: a clause is named as the document numbers it, with
	// no position of ours before it ("§12 6. Intellectual Property").
	if titles := eval[string](b, `[...document.querySelectorAll('.clause-title')].map((e) => e.textContent).join('|')`); strings.Contains(titles, "§") {
		b.fail("clause titles carry an extra number: %s", titles)
	}
	if strings.Contains(b.pageText(), "% match") || eval[int](b, `document.querySelectorAll('.clause [data-likelihood]').length`) == 0 {
		b.fail("confidence shown as a percentage, or not in words")
	}
	// Other opens and closes.
	eval[chromedp.Void](b, `document.querySelector('.clause-group[data-category=Other] .group-toggle').click()`)
	b.waitFor("Other open", `document.querySelector('.clause-group[data-category=Other] .group-toggle').getAttribute('aria-expanded') === 'true' && document.querySelector('.clause-group[data-category=Other] .clause').offsetParent !== null`, 10*time.Second)
	eval[chromedp.Void](b, `document.querySelector('.clause-group[data-category=Other] .group-toggle').click()`)
	b.waitFor("Other closed", `document.querySelector('.clause-group[data-category=Other] .clause').offsetParent === null`, 10*time.Second)

	// Keyboard: the hint says how; j, j, k; v opens the viewer on the current clause.
	if hint := eval[string](b, `document.querySelector('.keys-hint').textContent`); !strings.Contains(hint, "next clause") {
		b.fail("no keyboard hint: %q", hint)
	}
	order := eval[[]string](b, `[...document.querySelectorAll('.clause-group[data-open=true] .clause')].map((c) => c.id)`)
	active := func() string { return eval[string](b, `document.activeElement ? document.activeElement.id : ''`) }
	for i, step := range []struct {
		key  string
		want string
	}{{"j", order[0]}, {"j", order[1]}, {"j", order[2]}, {"k", order[1]}} {
		b.key(step.key)
		b.waitFor(fmt.Sprintf("step %d (%s) on %s", i, step.key, step.want), fmt.Sprintf(`document.activeElement && document.activeElement.id === %q`, step.want), 10*time.Second)
	}
	if got := active(); got != order[1] {
		b.fail("focus on %s, want %s", got, order[1])
	}
	b.key("v")
	ord, _ := strconv.Atoi(strings.TrimPrefix(order[1], "clause-"))
	var want int
	for _, c := range clauses {
		if c.Ordinal == ord {
			want = *c.PageStart
		}
	}
	if got := b.viewerPage(); got != want {
		b.fail("v opened page %d, want %d", got, want)
	}
	b.key("Escape")
	b.waitFor("the viewer closed", `!document.querySelector('dialog[open]')`, 20*time.Second)
}

// A clause stored under a value category (as analyses before it stopped
// did: "Document Name", "Parties") is an Other clause everywhere: in the
// groups, the category filter, and when filtering by Other.
func TestValueCategoriesAreNotClauseGroups(t *testing.T) {
	admin := adminToken(t)
	doc := uploadAndWait(t, admin, createProject(t, admin, "Old analysis"), samplePDF(t))
	if _, err := st.pool.Exec(context.Background(), `UPDATE clauses SET category = CASE ordinal WHEN 1 THEN 'Document Name' ELSE 'Parties' END
		WHERE document_id = $1 AND ordinal IN (1, 2)`, doc); err != nil {
		t.Fatal(err)
	}
	b := signedInAdmin(t)
	b.openDocument(doc)
	groups := eval[[]string](b, `[...document.querySelectorAll('.clause-group')].map((g) => g.dataset.category)`)
	options := eval[[]string](b, `[...document.querySelectorAll('select[name=category] option')].map((o) => o.value).filter(Boolean)`)
	for _, c := range append(groups, options...) {
		if c != "Other" && !analysis.IsClauseType(c) {
			b.fail("%q is offered as a clause category (groups %v, filter %v)", c, groups, options)
		}
	}
	b.selectValue(`select[name=category]`, "Other")
	b.waitFor("the Other clauses", `location.search.includes('category=Other') && !document.querySelector('.clause-groups .loading')`, 60*time.Second)
	shown := eval[[]string](b, `[...document.querySelectorAll('.clause')].filter((c) => c.offsetParent !== null).map((c) => c.id)`)
	if !slices.Contains(shown, "clause-1") || !slices.Contains(shown, "clause-2") {
		b.fail("filtering by Other shows %v: not the clauses stored under value categories, or collapsed", shown)
	}
}

// Uploading on the project page shows the stages as they happen: the page
// follows the server-sent events (not a 2-second poll, which would see one
// stage at most for a document analyzed in a few seconds).
func TestLiveProgressShowsEachStage(t *testing.T) {
	b := signedInAdmin(t)
	project := createProject(t, adminToken(t), "Live progress")
	b.open("/projects/" + project)
	b.waitFor("the live stream", `document.querySelector('#documents') && document.querySelector('#documents').dataset.live === 'live'`, 60*time.Second)
	// Record every status the document rows show, in order.
	eval[chromedp.Void](b, `(() => {
		window.__stages = [];
		window.__listLoads = 0;
		const note = (s) => { if (s && window.__stages[window.__stages.length - 1] !== s) window.__stages.push(s); };
		new MutationObserver((records) => {
			for (const r of records) for (const n of r.addedNodes) {
				if (n.nodeType !== 1) continue;
				for (const tr of [n, ...n.querySelectorAll('tr[data-status]')]) if (tr.matches && tr.matches('tr[data-status]')) note(tr.dataset.status);
			}
		}).observe(document.querySelector('#documents'), {childList: true, subtree: true});
		new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.name.includes('/documents?limit')) window.__listLoads++; }).observe({type: 'resource'});
	})()`)
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{cuadPDF(t, adamsGolf)}))
	b.waitFor("the analysis to complete", `document.querySelector('.documents-table tr[data-status=complete]')`, 4*time.Minute)
	stages := eval[[]string](b, `window.__stages`)
	loads := eval[int](b, `window.__listLoads`)
	t.Logf("stages shown: %v; document list loaded %d times", stages, loads)
	b.checkStages(stages)
	if loads > 6 {
		b.fail("the document list was loaded %d times: the page polls instead of following the events", loads)
	}
}

// The document page shows the stages of its own analysis as they happen:
// "Analyze again" on an analyzed document, then the stepper follows the
// server-sent events to the finished review, reloading the document only
// when the stream (re)connects and at the end.
func TestDocumentPageFollowsEachStage(t *testing.T) {
	admin := adminToken(t)
	project := createProject(t, admin, "Live document")
	doc := uploadAndWait(t, admin, project, samplePDF(t))
	b := signedInAdmin(t)
	b.openDocument(doc)
	eval[chromedp.Void](b, fmt.Sprintf(`(() => {
		window.__stages = [];
		window.__docLoads = 0;
		const note = (s) => { if (s && window.__stages[window.__stages.length - 1] !== s) window.__stages.push(s); };
		new MutationObserver(() => {
			const p = document.querySelector('#pipeline .pipeline[data-status]');
			if (p) note(p.dataset.status);
			else if (document.querySelector('.clause')) note('complete');
		}).observe(document.querySelector('#app'), {childList: true, subtree: true, attributes: true});
		new PerformanceObserver((l) => { for (const e of l.getEntries()) if (new URL(e.name).pathname === '/api/documents/%s') window.__docLoads++; }).observe({type: 'resource'});
	})()`, doc))
	b.clickButton(".page-actions", "Analyze again")
	b.waitFor("the stepper", `document.querySelector('#pipeline')`, 60*time.Second)
	if live := eval[string](b, `(document.querySelector('#pipeline').parentElement.dataset.live || '')`); live == "polling" {
		b.fail("the document page fell back to polling")
	}
	b.waitFor("the review again", `!document.querySelector('#pipeline') && document.querySelectorAll('.clause').length > 0`, 4*time.Minute)
	stages := eval[[]string](b, `window.__stages`)
	loads := eval[int](b, `window.__docLoads`)
	t.Logf("stages shown: %v; document loaded %d times", stages, loads)
	b.checkStages(stages)
	// Re-render after "Analyze again", the stream's ready, the end.
	if loads > 4 {
		b.fail("the document was loaded %d times: the page polls instead of following the events", loads)
	}
}

// The project dashboard follows the analyses too: a document uploaded
// meanwhile appears, shows its stages, and the risk counts arrive with the
// finished analysis, without the reader reloading the page.
func TestDashboardFollowsTheAnalyses(t *testing.T) {
	admin := adminToken(t)
	project := createProject(t, admin, "Live dashboard")
	b := signedInAdmin(t)
	b.open("/projects/" + project + "/dashboard")
	b.waitFor("the live dashboard", `document.querySelector('.dashboard-live') && document.querySelector('.dashboard-live').dataset.live === 'live'`, 60*time.Second)
	eval[chromedp.Void](b, `(() => {
		window.__stages = [];
		window.__dashLoads = 0;
		const note = (s) => { if (s && window.__stages[window.__stages.length - 1] !== s) window.__stages.push(s); };
		new MutationObserver(() => {
			const tr = document.querySelector('#dash-documents tr[data-status]');
			if (tr) note(tr.dataset.status);
		}).observe(document.querySelector('#app'), {childList: true, subtree: true, attributes: true});
		new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.name.endsWith('/dashboard')) window.__dashLoads++; }).observe({type: 'resource'});
	})()`)
	if code := uploadAPI(t, admin, project, samplePDF(t)); code != http.StatusAccepted {
		t.Fatalf("upload: %d", code)
	}
	b.waitFor("the analyzed document on the dashboard", `document.querySelector('#dash-documents tr[data-status=complete]')`, 4*time.Minute)
	var dash struct {
		Totals struct {
			Complete int `json:"complete"`
			High     int `json:"high"`
			Low      int `json:"low"`
		} `json:"totals"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/projects/"+project+"/dashboard", admin, nil, &dash)
	want := fmt.Sprintf("%d|%d", dash.Totals.High, dash.Totals.Low)
	b.waitFor("the risk counts "+want, fmt.Sprintf(`[...document.querySelectorAll('#overview .dash-stat-n')].slice(1, 4).map((e) => e.textContent).filter((_, i) => i !== 1).join('|') === %q`, want), 60*time.Second)
	stages := eval[[]string](b, `window.__stages`)
	loads := eval[int](b, `window.__dashLoads`)
	t.Logf("stages shown: %v; dashboard loaded %d times", stages, loads)
	if len(stages) < 2 || stages[len(stages)-1] != "complete" {
		b.fail("the dashboard showed %v: want the stages, then complete", stages)
	}
	if loads > 8 {
		b.fail("the dashboard was loaded %d times: it polls instead of following the events", loads)
	}
}

// uiText is the page's own wording: #app without what comes from the
// contracts or the people (clause text, facts, names, comments).
const uiText = `(() => {
	const m = document.querySelector('#app').cloneNode(true);
	m.querySelectorAll('.clause-text, .clause-title, .similar-text, .decision-comment, .facts dd, .doc-name, .page-title, .breadcrumb, .project-name, .project-desc, .page-subtitle, .eyebrow, .group-title, .search-hit, .key-date-source, .key-date-body a, .rule-condition code, #dash-documents td:first-child').forEach((e) => e.remove());
	return m.textContent;
})()`

// british finds British spellings (the product speaks American English).
const british = `\b(analys(e|ed|es|ing)|cancelled|colour|organis(e|ed|ation)|authoris(e|ed|ation)|behaviour|catalogue|favour(ed|ite|able)?|licence|recognis(e|ed)|summaris(e|ed)|prioritis(e|ed))\b`

// checkWording checks the page on screen (what names it in failures): no
// British spelling, no internal identifier (the analyzer's model names and
// the given ids), no ISO date in the wording and every <time> in the one
// locale-aware format ("Jul 1, 2020", with ", 8:18 AM" for moments; a
// calendar date is its day, not shifted by the reader's time zone).
func (b *tab) checkWording(what string, ids ...string) {
	b.t.Helper()
	text := eval[string](b, uiText)
	if m := eval[string](b, fmt.Sprintf(`(new RegExp(%q, 'i').exec(%s) || [''])[0]`, british, uiText)); m != "" {
		b.fail("%s: British spelling %q", what, m)
	}
	all := eval[string](b, `document.querySelector('#app').textContent`)
	for _, id := range append([]string{"offline/", "cuad-lr", "offline-hash"}, ids...) {
		if strings.Contains(all, id) {
			b.fail("%s shows the internal identifier %q", what, id)
		}
	}
	if m := eval[string](b, `(/\b\d{4}-\d{2}-\d{2}\b/.exec(`+uiText+`) || [''])[0]`); m != "" {
		b.fail("%s shows an ISO date %s: %s", what, m, text)
	}
	bad := eval[[]string](b, `[...document.querySelectorAll('main time')].filter((t) => {
		const d = new Date(t.dateTime);
		const calendar = /^\d{4}-\d{2}-\d{2}$/.test(t.dateTime);
		const day = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeZone: calendar ? 'UTC' : undefined}).format(d);
		const moment = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'}).format(d);
		return t.textContent !== day && (calendar || t.textContent !== moment);
	}).map((t) => t.dateTime + ' as ' + t.textContent)`)
	if len(bad) > 0 {
		b.fail("%s: dates in another format: %v", what, bad)
	}
}

// The wording is American English, dates have one format, no internal
// identifiers are shown, focus rings are light, and toasts end with the
// page they belong to.
func TestUIConsistency(t *testing.T) {
	project, doc := reviewedDocument(t)
	b := signedInAdmin(t)
	for _, path := range []string{"/projects", "/projects/" + project, "/projects/" + project + "/dashboard", "/projects/" + project + "/playbook",
		"/playbook", "/documents/" + doc, "/documents/" + doc + "/reports", "/search?q=endorsement",
		"/admin/users", "/admin/memberships", "/admin/settings", "/admin/ai", "/admin/audit"} {
		b.open(path)
		b.waitFor("the page "+path, `document.querySelector('main h1') && !document.querySelector('main .loading')`, 60*time.Second)
		switch path {
		case "/documents/" + doc:
			b.waitFor("the clauses", `document.querySelectorAll('.clause').length > 0`, 60*time.Second)
		case "/playbook", "/projects/" + project + "/playbook":
			b.waitFor("the rules", `document.querySelectorAll('#rules .rule').length > 0`, 60*time.Second)
		}
		b.checkWording(path, project, doc)
	}
	// The analyzer in words.
	b.open("/documents/" + doc)
	b.waitFor("the facts", `document.querySelector('#facts')`, 60*time.Second)
	if txt := eval[string](b, `document.querySelector('#facts').textContent`); !strings.Contains(txt, "Analyzed by the built-in analyzer") {
		b.fail("analyzer not named in words: %q", txt)
	}
	// Focus: the page title (focused for screen readers) has no ring; a
	// control reached with the keyboard has a thin one.
	if o := eval[string](b, `(() => { const h = document.querySelector('main h1'); h.focus(); return getComputedStyle(h).outlineStyle; })()`); o != "none" {
		b.fail("the page title shows a focus ring (%s)", o)
	}
	b.key("Tab")
	ring := eval[string](b, `(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth; })()`)
	if ring != "solid 2px" {
		b.fail("keyboard focus ring %q, want solid 2px", ring)
	}
	// Toasts: a page change the reader makes clears them.
	b.open("/projects")
	b.waitFor("the project list", `document.querySelector('.project-card')`, 60*time.Second)
	b.clickButton(".page-header", "New project")
	b.typeInto(`dialog input[name=name]`, "Toast check")
	b.do("create the project", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
	b.waitFor("the new project with its toast", `location.pathname.startsWith('/projects/') && document.querySelector('.toast')`, 60*time.Second)
	b.do("follow the breadcrumb", chromedp.Click(chromedp.CSS(`.breadcrumb a[href="/projects"]`)))
	b.waitFor("the project list", `location.pathname === '/projects' && document.querySelector('.project-card')`, 60*time.Second)
	if n := eval[int](b, `document.querySelectorAll('.toast').length`); n != 0 {
		b.fail("%d toasts survived the page change", n)
	}
}

// checkStages fails unless the stages a page showed are in pipeline order,
// with at least two intermediate ones, ending with complete.
func (b *tab) checkStages(stages []string) {
	order := map[string]int{"queued": 0, "extracting": 1, "classifying": 2, "analyzing": 3, "embedding": 4, "complete": 5}
	intermediate, last := 0, -1
	for _, s := range stages {
		o, ok := order[s]
		if !ok || o < last {
			b.fail("stages out of order: %v", stages)
		}
		if o >= 1 && o <= 4 {
			intermediate++
		}
		last = o
	}
	if intermediate < 2 || stages[len(stages)-1] != "complete" {
		b.fail("the page showed %v: want at least two intermediate stages, then complete", stages)
	}
}
