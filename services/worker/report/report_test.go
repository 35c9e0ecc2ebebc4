package report_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/worker/report"
)

func sample() *report.Data {
	at := time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC)
	return &report.Data{
		DocumentName: "Endorsement Agreement – Adams Golf.pdf", ProjectName: "Sponsorships", FileType: "pdf", Pages: 13,
		Status: "complete", Analyzer: "offline/v1", UploadedBy: "Lee Lawyer", UploadedAt: at, GeneratedAt: at.Add(time.Hour),
		Facts: []report.Fact{{Label: "Parties", Value: "Tom Watson; Adams Golf, Ltd."}, {Label: "Governing law", Value: "Texas"}},
		Clauses: []report.Clause{
			{Ordinal: 1, Category: "Governing Law", Confidence: 0.93, Risk: "low", Explanation: "Standard choice of law.", Text: "This Agreement shall be governed by the laws of the State of Texas."},
			{Ordinal: 2, Category: "Uncapped Liability", Confidence: 0.71, Risk: "high", Explanation: "Liability is not capped.", Text: "Consultant’s liability is unlimited <script>alert(1)</script>.", Decision: "negotiate"},
			{Ordinal: 3, Category: "Termination for Convenience", Confidence: 0.64, Risk: "high", Explanation: "Either party may terminate at will.", Text: "Either party may terminate on 30 days notice."},
			{Ordinal: 4, Category: "Other", Confidence: 0.4, Risk: "low", Text: "WITNESSETH"},
		},
		Decisions: []report.Decision{{ClauseOrdinal: 2, Category: "Uncapped Liability", Decision: "negotiate", Comment: "Ask for a cap at fees paid.", By: "Lee Lawyer <lee@example.com>", At: at}},
	}
}

func TestHTMLReportHasFactsChartTablesAndDecisions(t *testing.T) {
	var buf bytes.Buffer
	if err := report.RenderHTML(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"<svg", `fill="#c0392b"`, "<title>High: 2</title>", "Governing Law", "Uncapped Liability",
		"Ask for a cap at fees paid.", "Lee Lawyer &lt;lee@example.com&gt;", "2026-03-04 10:30 UTC", "Texas", "Sponsorships"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("clause text not escaped")
	}
	// Riskiest categories first in the summary.
	if strings.Index(html, "<td>Termination for Convenience</td>") > strings.Index(html, "<td>Governing Law</td>") {
		t.Error("category table not ordered by risk")
	}
}

func TestPDFReportIsReadableByPdftotext(t *testing.T) {
	var buf bytes.Buffer
	if err := report.RenderPDF(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	text := string(out)
	for _, want := range []string{"Endorsement Agreement - Adams Golf.pdf", "Governing Law", "Uncapped Liability", "Termination for Convenience",
		"Risk distribution", "Review decisions", "Ask for a cap at fees paid.", "Lee Lawyer"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestEmptyReportRenders(t *testing.T) {
	d := &report.Data{DocumentName: "empty.docx", Status: "failed"}
	var h, p bytes.Buffer
	if err := report.RenderHTML(&h, d); err != nil {
		t.Fatal(err)
	}
	if err := report.RenderPDF(&p, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), "No clauses.") || !bytes.HasPrefix(p.Bytes(), []byte("%PDF-")) {
		t.Error("empty report content")
	}
}

// Every clause is in the report: in full, or (low-risk "Other") in the
// summary with its number and first words.
func TestReportsListEveryClauseWithOtherSummarised(t *testing.T) {
	d := sample()
	d.Clauses = append(d.Clauses,
		report.Clause{Ordinal: 5, Heading: "Notices", Category: "Other", Risk: "low", Text: "All notices shall be in writing and delivered by hand."},
		report.Clause{Ordinal: 7, Heading: "12. Severability", Category: "Other", Risk: "low", Text: "12. Severability. If any provision is invalid, the rest remains."},
		report.Clause{Ordinal: 6, Category: "Other", Risk: "medium", Explanation: "Flagged anyway.", Text: "Consultant waives every moral right."})
	if n := len(d.OtherClauses()); n != 3 {
		t.Fatalf("%d Other clauses summarised, want 3 (the medium one is in full)", n)
	}
	if got := report.OtherLine(d.Clauses[len(d.Clauses)-2]); got != "§7 12. Severability — If any provision is invalid, the rest remains." {
		t.Errorf("a heading is not repeated in the line: %q", got)
	}
	var h, p bytes.Buffer
	if err := report.RenderHTML(&h, d); err != nil {
		t.Fatal(err)
	}
	if err := report.RenderPDF(&p, d); err != nil {
		t.Fatal(err)
	}
	html, text := h.String(), pdfText(t, p.Bytes())
	for _, want := range []string{"Other clauses (3)", "§4 — WITNESSETH", "§5 Notices — All notices shall be in writing", "Flagged anyway."} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, want := range []string{"Other clauses (3)", "§4 - WITNESSETH", "§5 Notices - All notices shall be in writing", "Flagged anyway."} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	for _, c := range d.Clauses {
		if !strings.Contains(html, c.Category) {
			t.Errorf("HTML lacks clause %d's category", c.Ordinal)
		}
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// The project report has an overview of every document and then each
// document's clauses, key dates included.
func TestProjectReportCoversEveryDocument(t *testing.T) {
	a := sample()
	b := &report.Data{DocumentName: "Supply Agreement.docx", FileType: "docx", Status: "complete",
		Clauses: []report.Clause{
			{Ordinal: 1, Category: "Exclusivity", Risk: "high", Explanation: "Exclusive supply.", Text: "Supplier shall sell only to Buyer.", Decision: "reject"},
			{Ordinal: 2, Category: "Other", Risk: "low", Heading: "Counterparts", Text: "This Agreement may be signed in counterparts."},
		}}
	pr := &report.Project{ProjectName: "Acme matter", GeneratedAt: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
		Documents: []*report.Data{a, b},
		KeyDates: []report.KeyDate{{Date: "2027-04-01", Title: "Last day to give notice of non-renewal", Detail: "90 days before 2027-06-30.",
			Tentative: true, Document: "Supply Agreement.docx"}}}
	if !strings.Contains(pr.Summary(), "2 documents with 6 analyzed clauses: 3 high risk") || !strings.Contains(pr.Summary(), "4 clauses await a decision") {
		t.Errorf("summary: %s", pr.Summary())
	}
	var h, p bytes.Buffer
	if err := report.RenderProjectHTML(&h, pr); err != nil {
		t.Fatal(err)
	}
	if err := report.RenderProjectPDF(&p, pr); err != nil {
		t.Fatal(err)
	}
	html, text := h.String(), pdfText(t, p.Bytes())
	for _, want := range []string{"Acme matter", "Endorsement Agreement – Adams Golf.pdf", "Supply Agreement.docx", "Exclusive supply.",
		"Liability is not capped.", "Other clauses (1)", "§2 Counterparts", "2027-04-01", "tentative", "Ask for a cap at fees paid."} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, want := range []string{"Acme matter", "Endorsement Agreement - Adams Golf.pdf", "Supply Agreement.docx", "Exclusive supply.",
		"Liability is not capped.", "§2 Counterparts", "2027-04-01", "tentative", "Ask for a cap at fees paid."} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("clause text not escaped")
	}
}
