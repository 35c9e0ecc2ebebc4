package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A reviewer account created by an admin signs in, must choose a password,
// creates a project, uploads a CUAD contract, waits for the analysis, decides
// on a clause and downloads a report.
func TestReviewerUploadsReviewsAndDownloadsReport(t *testing.T) {
	admin := adminToken(t)
	email := "reviewer@example.com"
	temp := "temporary-" + randomHex(6)
	createUser(t, admin, email, "Rita Reviewer", "user", temp)

	b := newTab(t)
	b.open("/projects")
	b.waitPath("/login")
	b.waitFor("the sign-in form", `document.querySelector('input[name=email]')`, 60*time.Second)
	b.shot("01-sign-in")
	b.signIn(email, temp)

	// Forced password change.
	b.waitPath("/change-password")
	b.waitFor("the password form", `document.querySelector('input[name=new_password]')`, 60*time.Second)
	b.shot("02-forced-password-change")
	newPassword := "a-much-better-passphrase-" + randomHex(4)
	b.typeInto(`input[name=current_password]`, temp)
	b.typeInto(`input[name=new_password]`, newPassword)
	b.typeInto(`input[name=confirm_password]`, newPassword)
	b.do("save the new password", chromedp.Click(chromedp.CSS(`form button[type=submit]`)))
	b.waitPath("/projects")
	b.waitFor("the empty project list", `document.querySelector('.empty')`, 60*time.Second)
	if _, err := loginAPI(email, newPassword); err != nil {
		t.Fatalf("the new password does not work through the API: %v", err)
	}

	// Create a project.
	b.clickButton(".page-header", "New project")
	b.typeInto(`dialog input[name=name]`, "Acme distribution deal")
	b.typeInto(`dialog textarea[name=description]`, "Distributor agreement with Optimized Transportation Management, 2000.")
	b.do("create the project", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
	b.waitFor("the project page", `location.pathname.match(/^\/projects\/[0-9a-f-]{36}$/) && document.querySelector('#file-input')`, 60*time.Second)
	projectID := eval[string](b, `location.pathname.split('/')[2]`)

	// Upload a real contract and follow the pipeline until it completes.
	pdf := samplePDF(t)
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{pdf}))
	b.waitFor("the upload to finish", `document.querySelector('.upload-item[data-state=done]')`, 60*time.Second)
	b.waitFor("the document row", `document.querySelector('.documents-table tr[data-id]')`, 60*time.Second)
	b.shot("03-project-analysing")
	b.waitFor("the analysis to complete", `document.querySelector('.documents-table tr[data-status=complete]') || document.querySelector('.documents-table tr[data-status=failed]')`, 4*time.Minute)
	if st := eval[string](b, `document.querySelector('.documents-table tr[data-id]').dataset.status`); st != "complete" {
		b.fail("the pipeline ended with status %s: %s", st, b.pageText())
	}
	b.shot("04-project-documents")
	docID := eval[string](b, `document.querySelector('.documents-table tr[data-id]').dataset.id`)

	// The document page: facts, clauses by category with risk badges.
	b.do("open the document", chromedp.Click(chromedp.CSS(`.documents-table a.doc-link`)))
	b.waitPath("/documents/" + docID)
	b.waitFor("the clauses", `document.querySelectorAll('.clause').length > 0`, 60*time.Second)
	var clauses struct {
		Items []struct {
			ID        string `json:"id"`
			RiskLevel string `json:"risk_level"`
			Category  string `json:"category"`
		} `json:"items"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/documents/"+docID+"/clauses", admin, nil, &clauses)
	if n := eval[int](b, `document.querySelectorAll('.clause').length`); n != len(clauses.Items) || n == 0 {
		t.Fatalf("the page shows %d clauses, the API has %d", n, len(clauses.Items))
	}
	if eval[int](b, `document.querySelectorAll('.clause .badge[data-risk]').length`) != len(clauses.Items) {
		t.Fatal("not every clause shows a risk badge")
	}
	// Contract text may say "null and void"; everything else must not show programming values.
	if eval[bool](b, `(() => { const m = document.querySelector('main').cloneNode(true); m.querySelectorAll('.clause-text, .similar-text, .decision-comment').forEach((e) => e.remove()); return /\bnull\b|\bundefined\b|\bNaN\b|\[object Object\]/.test(m.textContent); })()`) {
		b.fail("the document page shows a programming value: %s", b.pageText())
	}
	b.shot("05-document-full")

	// Filter by risk: only clauses of that level remain.
	level := clauses.Items[0].RiskLevel
	want := 0
	for _, c := range clauses.Items {
		if c.RiskLevel == level {
			want++
		}
	}
	b.selectValue(`select[name=risk]`, level)
	b.waitFor("the risk filter", fmt.Sprintf(`location.search.includes('risk=%s') && document.querySelectorAll('.clause').length === %d && [...document.querySelectorAll('.clause')].every((c) => c.dataset.risk === %q)`, level, want, level), 60*time.Second)
	b.selectValue(`select[name=risk]`, "")
	b.waitFor("all clauses again", fmt.Sprintf(`document.querySelectorAll('.clause').length === %d`, len(clauses.Items)), 60*time.Second)

	// Decide on the first clause with a comment.
	b.do("accept the first clause", chromedp.Click(chromedp.CSS(`.clause .btn-accept`)))
	b.typeInto(`.clause .decision-form textarea`, "Standard distributor terms; acceptable.")
	b.do("save the decision", chromedp.Click(chromedp.CSS(`.clause .decision-form button[type=submit]`)))
	b.waitFor("the decision on the page", `document.querySelector('.clause .decision-line [data-decision=accept]') && document.querySelector('.clause .decision-line').textContent.includes('Rita Reviewer') && document.querySelector('#summary').textContent.includes('1 decided')`, 60*time.Second)
	var decisions struct {
		Items []struct {
			ClauseID  string `json:"clause_id"`
			Decision  string `json:"decision"`
			Comment   string `json:"comment"`
			DecidedBy struct {
				Email string `json:"email"`
			} `json:"decided_by"`
		} `json:"items"`
	}
	mustCall(t, http.StatusOK, "GET", "/api/documents/"+docID+"/decisions", admin, nil, &decisions)
	if len(decisions.Items) != 1 || decisions.Items[0].Decision != "accept" || decisions.Items[0].Comment != "Standard distributor terms; acceptable." || decisions.Items[0].DecidedBy.Email != email {
		t.Fatalf("decisions recorded: %+v", decisions.Items)
	}
	b.do("open the similar clauses", chromedp.Click(chromedp.CSS(`.clause .clause-tools button[aria-expanded]`)))
	b.waitFor("the similar clauses panel", `document.querySelector('.clause .similar, .clause .clause-extra p.muted')`, 60*time.Second)
	eval[chromedp.Void](b, `(document.querySelectorAll('.toast').forEach((t) => t.remove()), window.scrollTo(0, 0))`)
	b.viewportShot("05-document")

	// Reports: generate, wait, download the PDF and the HTML.
	b.do("open the reports tab", chromedp.Click(chromedp.CSS(`.tabs a[href$="/reports"]`)))
	b.waitPath("/documents/" + docID + "/reports")
	b.waitFor("the risk chart", `document.querySelectorAll('svg.chart rect.seg').length > 0`, 60*time.Second)
	b.do("generate a report", chromedp.Click(chromedp.CSS(`#generate-report`)))
	b.waitFor("the report", `document.querySelector('.report-item[data-status=complete]') || document.querySelector('.report-item[data-status=failed]')`, 3*time.Minute)
	if st := eval[string](b, `document.querySelector('.report-item').dataset.status`); st != "complete" {
		b.fail("the report ended with status %s: %s", st, b.pageText())
	}
	b.shot("06-reports")
	b.do("download the PDF", chromedp.Click(chromedp.CSS(`.report-item button[data-format=pdf]`)))
	data := b.waitDownload(".pdf", 60*time.Second)
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Fatalf("the downloaded report is not a PDF: %q", data[:min(len(data), 40)])
	}
	b.do("download the HTML", chromedp.Click(chromedp.CSS(`.report-item button[data-format=html]`)))
	html := b.waitDownload(".html", 60*time.Second)
	if !bytes.Contains(bytes.ToLower(html), []byte("<html")) {
		t.Fatalf("the downloaded HTML report is not HTML: %q", html[:min(len(html), 80)])
	}

	// The original file comes back byte for byte.
	b.open("/documents/" + docID)
	b.clickButton(".page-actions", "Download original")
	orig := b.waitDownload("DISTRIBUTOR_AGREEMENT.pdf", 60*time.Second)
	if !bytes.HasPrefix(orig, []byte("%PDF-")) {
		t.Fatal("the original file download is not the PDF")
	}

	// Search: a word of the contract finds its clauses, each linked to the document.
	b.open("/search")
	b.typeInto("#search-q", "Texas")
	b.do("search", chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)))
	b.waitFor("the search URL", `location.search.includes('q=Texas')`, 60*time.Second)
	b.waitFor("a search hit in the document", `document.querySelector('.search-hit a[href="/documents/`+docID+`"]')`, 60*time.Second)
	b.shot("07-search")

	// Members tab of the project: the reviewer is its admin.
	b.open("/projects/" + projectID + "/members")
	b.waitFor("the member list", `document.querySelector('#members tr[data-user-id]')`, 60*time.Second)
	if !strings.Contains(b.pageText(), email) {
		t.Fatal("the creator is not listed as a member")
	}
	b.shot("07-project-members")

	b.open("/projects")
	b.waitFor("the project card", `document.querySelector('.project-card')`, 60*time.Second)
	if !strings.Contains(b.pageText(), "1 document") {
		t.Fatalf("the project card does not count the document: %s", b.pageText())
	}
	b.shot("08-projects")
}
