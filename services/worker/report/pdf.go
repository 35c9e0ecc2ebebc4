package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// pdfDoc is a report PDF being written: A4, core Helvetica; text outside
// Windows-1252 is transliterated by fpdf.
type pdfDoc struct {
	pdf    *fpdf.Fpdf
	t      func(string) string
	lm     float64
	usable float64
}

func newPDF(title, footer string) *pdfDoc {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(title, true)
	pdf.SetCreator("Contract Lucidity", true)
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 15)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	p := &pdfDoc{pdf: pdf, t: func(s string) string { return tr(toLatin(s)) }}
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(120, 120, 120)
		pdf.CellFormat(0, 5, p.t(footer)+" - page "+strconv.Itoa(pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	lm, _, rm, _ := pdf.GetMargins()
	p.lm, p.usable = lm, width-lm-rm
	return p
}

func (p *pdfDoc) heading(s string, size float64) {
	p.pdf.Ln(4)
	p.pdf.SetFont("Helvetica", "B", size)
	p.pdf.SetTextColor(28, 40, 51)
	p.pdf.CellFormat(0, size*0.6, p.t(s), "B", 1, "L", false, 0, "")
	p.pdf.Ln(2)
}

func (p *pdfDoc) text(s string, style string, size, line float64) {
	p.pdf.SetFont("Helvetica", style, size)
	p.pdf.MultiCell(0, line, p.t(s), "", "L", false)
}

func (p *pdfDoc) title(s string, meta ...string) {
	p.pdf.SetFont("Helvetica", "B", 18)
	p.pdf.MultiCell(0, 8, p.t(s), "", "L", false)
	p.pdf.SetTextColor(86, 101, 115)
	for _, m := range meta {
		p.text(m, "", 9, 4.5)
	}
	p.pdf.SetTextColor(28, 40, 51)
}

func (p *pdfDoc) facts(fs []Fact) {
	if len(fs) == 0 {
		p.text("No facts were found.", "", 10, 5)
	}
	for _, f := range fs {
		p.pdf.SetFont("Helvetica", "B", 10)
		y := p.pdf.GetY()
		p.pdf.MultiCell(50, 5, p.t(f.Label), "", "L", false)
		y2 := p.pdf.GetY()
		p.pdf.SetXY(p.lm+50, y)
		p.pdf.SetFont("Helvetica", "", 10)
		p.pdf.MultiCell(p.usable-50, 5, p.t(f.Value), "", "L", false)
		p.pdf.SetY(max(p.pdf.GetY(), y2))
	}
}

func (p *pdfDoc) keyDates(ks []KeyDate) {
	if len(ks) == 0 {
		p.text("No renewal, expiration or notice date could be computed from the facts.", "", 10, 5)
	}
	for _, k := range ks {
		head := k.Date + "  " + k.Title
		if k.Tentative {
			head += " (tentative: check the contract)"
		}
		if k.Document != "" {
			head += " - " + k.Document
		}
		p.text(head, "B", 10, 5)
		p.text(k.Detail, "", 9, 4.5)
		p.pdf.Ln(1)
	}
}

func (p *pdfDoc) riskBars(dist map[string]int) {
	maxN := 1
	for _, n := range dist {
		maxN = max(maxN, n)
	}
	for _, r := range Risks {
		y := p.pdf.GetY()
		p.pdf.SetFont("Helvetica", "", 10)
		p.pdf.CellFormat(25, 7, strings.ToUpper(r[:1])+r[1:], "", 0, "L", false, 0, "")
		rgb := hexRGB(RiskColor[r])
		p.pdf.SetFillColor(rgb[0], rgb[1], rgb[2])
		bw := float64(dist[r]) / float64(maxN) * (p.usable - 45)
		if dist[r] > 0 && bw < 1 {
			bw = 1
		}
		if bw > 0 {
			p.pdf.Rect(p.lm+25, y+1, bw, 5, "F")
		}
		p.pdf.SetXY(p.lm+25+bw+2, y)
		p.pdf.CellFormat(15, 7, strconv.Itoa(dist[r]), "", 1, "L", false, 0, "")
	}
}

// table writes a header and rows; the first column takes what the others leave.
func (p *pdfDoc) table(header []string, widths []float64, rows [][]string) {
	cols := append([]float64{p.usable}, widths...)
	for _, w := range widths {
		cols[0] -= w
	}
	p.pdf.SetFont("Helvetica", "B", 9)
	p.pdf.SetFillColor(244, 246, 247)
	for i, n := range header {
		p.pdf.CellFormat(cols[i], 6, p.t(n), "1", 0, "L", true, 0, "")
	}
	p.pdf.Ln(-1)
	p.pdf.SetFont("Helvetica", "", 9)
	for _, row := range rows {
		for i, v := range row {
			align := "R"
			if i == 0 {
				align = "L"
				v = excerpt(v, 70)
			}
			p.pdf.CellFormat(cols[i], 6, p.t(v), "1", 0, align, false, 0, "")
		}
		p.pdf.Ln(-1)
	}
}

func (p *pdfDoc) categories(d *Data) {
	var rows [][]string
	for _, c := range d.Categories() {
		rows = append(rows, []string{c.Category, strconv.Itoa(c.Count), strconv.Itoa(c.High), strconv.Itoa(c.Medium), strconv.Itoa(c.Low)})
	}
	p.table([]string{"Category", "Clauses", "High", "Medium", "Low"}, []float64{20, 20, 20, 20}, rows)
}

// clauses writes every clause: in full, riskiest first, then the "Other"
// clauses a line each.
func (p *pdfDoc) clauses(d *Data) {
	full := d.ClausesByRisk()
	if len(full) == 0 && len(d.OtherClauses()) == 0 {
		p.text("No clauses.", "", 10, 5)
	}
	for _, c := range full {
		rgb := hexRGB(RiskColor[c.Risk])
		p.pdf.SetFont("Helvetica", "B", 10)
		p.pdf.SetTextColor(rgb[0], rgb[1], rgb[2])
		p.pdf.CellFormat(22, 5.5, strings.ToUpper(c.Risk), "", 0, "L", false, 0, "")
		p.pdf.SetTextColor(28, 40, 51)
		title := fmt.Sprintf("#%d %s (%.0f%%)", c.Ordinal, c.Category, c.Confidence*100)
		if c.Decision != "" {
			title += " - decision: " + c.Decision
		}
		p.pdf.MultiCell(0, 5.5, p.t(title), "", "L", false)
		if c.Heading != "" {
			p.text(c.Heading, "", 9.5, 4.5)
		}
		if c.Explanation != "" {
			p.text(c.Explanation, "", 9.5, 4.5)
		}
		p.pdf.SetTextColor(80, 80, 80)
		p.text(excerpt(c.Text, 400), "I", 8.5, 4)
		p.pdf.SetTextColor(28, 40, 51)
		p.pdf.Ln(2)
	}
	if other := d.OtherClauses(); len(other) > 0 {
		p.text(fmt.Sprintf("Other clauses (%d): low risk, in no category; each by its first words.", len(other)), "B", 10, 5.5)
		p.pdf.SetTextColor(80, 80, 80)
		for _, c := range other {
			line := OtherLine(c)
			if c.Decision != "" {
				line += " (" + c.Decision + ")"
			}
			p.text(line, "", 8.5, 4)
		}
		p.pdf.SetTextColor(28, 40, 51)
	}
}

func (p *pdfDoc) decisions(ds []Decision) {
	if len(ds) == 0 {
		p.text("No decisions have been recorded.", "", 10, 5)
	}
	for _, dec := range ds {
		p.text(fmt.Sprintf("#%d %s: %s", dec.ClauseOrdinal, dec.Category, dec.Decision), "B", 10, 5)
		line := "by " + dec.By + " on " + date(dec.At)
		if dec.Comment != "" {
			line += " - " + dec.Comment
		}
		p.text(line, "", 9, 4.5)
		p.pdf.Ln(1)
	}
}

func (p *pdfDoc) output(w io.Writer) error {
	if err := p.pdf.Error(); err != nil {
		return fmt.Errorf("render pdf: %w", err)
	}
	return p.pdf.Output(w)
}

func docMeta(d *Data, project bool) string {
	meta := d.FileType
	if !project {
		meta = "Project " + d.ProjectName + " - " + meta
	}
	if d.Pages > 0 {
		meta += fmt.Sprintf(" - %d pages", d.Pages)
	}
	meta += " - uploaded " + date(d.UploadedAt)
	if d.UploadedBy != "" {
		meta += " by " + d.UploadedBy
	}
	return meta + " - analysis " + d.Status
}

func generated(at time.Time, by string) string {
	s := "Report generated " + date(at)
	if by != "" {
		s += " for " + by
	}
	return s
}

// RenderPDF writes the report of a document as a PDF.
func RenderPDF(w io.Writer, d *Data) error {
	p := newPDF("Contract report: "+d.DocumentName, d.DocumentName)
	p.title(d.DocumentName, docMeta(d, false), generated(d.GeneratedAt, d.RequestedBy))
	if d.Summary != "" {
		p.heading("Summary", 13)
		p.text(d.Summary, "", 10, 5)
		if d.SummaryBy != "" {
			p.text("Summary by "+d.SummaryBy, "I", 8.5, 4.5)
		}
	}
	p.heading("Document facts", 13)
	p.facts(d.Facts)
	p.heading("Key dates", 13)
	p.keyDates(d.KeyDates)
	p.heading("Risk distribution", 13)
	p.riskBars(d.Distribution())
	p.heading("Clauses by category", 13)
	p.categories(d)
	p.heading("Clauses", 13)
	p.clauses(d)
	p.heading("Review decisions", 13)
	p.decisions(d.Decisions)
	return p.output(w)
}

// RenderProjectPDF writes the report of a project as a PDF: the overview,
// then each document from a new page.
func RenderProjectPDF(w io.Writer, pr *Project) error {
	p := newPDF("Project report: "+pr.ProjectName, pr.ProjectName)
	p.title(pr.ProjectName, "Project report", generated(pr.GeneratedAt, pr.RequestedBy))
	p.heading("Summary", 13)
	p.text(pr.Summary(), "", 10, 5)
	if pr.Truncated > 0 {
		p.text(fmt.Sprintf("%d older documents are not in this report.", pr.Truncated), "I", 9, 4.5)
	}
	p.heading("Risk distribution", 13)
	p.riskBars(pr.Distribution())
	p.heading("Documents", 13)
	var rows [][]string
	for _, d := range pr.Documents {
		dist := d.Distribution()
		rows = append(rows, []string{d.DocumentName, strconv.Itoa(len(d.Clauses)), strconv.Itoa(dist["high"]),
			strconv.Itoa(dist["medium"]), strconv.Itoa(dist["low"]), strconv.Itoa(d.Outstanding())})
	}
	p.table([]string{"Document", "Clauses", "High", "Medium", "Low", "Open"}, []float64{16, 14, 16, 14, 14}, rows)
	p.heading("Key dates", 13)
	p.keyDates(pr.KeyDates)
	for _, d := range pr.Documents {
		p.pdf.AddPage()
		p.title(d.DocumentName, docMeta(d, true))
		if d.Summary != "" {
			p.text(d.Summary, "", 10, 5)
		}
		p.heading("Facts", 12)
		p.facts(d.Facts)
		p.heading("Clauses", 12)
		p.clauses(d)
		p.heading("Review decisions", 12)
		p.decisions(d.Decisions)
	}
	return p.output(w)
}

func date(t time.Time) string { return fmtDate(t) }

func hexRGB(h string) [3]int {
	var r, g, b int
	_, _ = fmt.Sscanf(strings.TrimPrefix(h, "#"), "%02x%02x%02x", &r, &g, &b)
	return [3]int{r, g, b}
}

// toLatin replaces common typographic characters that Windows-1252 lacks
// or that fpdf's translator maps poorly.
func toLatin(s string) string {
	return strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`, "\u2013", "-", "\u2014", "-",
		"\u2026", "...", "\u00a0", " ", "\u2022", "*", "\f", " ").Replace(s)
}
