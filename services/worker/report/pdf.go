package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// RenderPDF writes the report as a PDF (A4, core Helvetica; text outside
// Windows-1252 is transliterated by fpdf).
func RenderPDF(w io.Writer, d *Data) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Contract report: "+d.DocumentName, true)
	pdf.SetCreator("Contract Lucidity", true)
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 15)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	t := func(s string) string { return tr(toLatin(s)) }
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(120, 120, 120)
		pdf.CellFormat(0, 5, t(d.DocumentName)+" - page "+strconv.Itoa(pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	lm, _, rm, _ := pdf.GetMargins()
	usable := width - lm - rm

	heading := func(s string) {
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.SetTextColor(28, 40, 51)
		pdf.CellFormat(0, 8, t(s), "B", 1, "L", false, 0, "")
		pdf.Ln(2)
	}
	pdf.SetFont("Helvetica", "B", 18)
	pdf.MultiCell(0, 8, t(d.DocumentName), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	pdf.SetTextColor(86, 101, 115)
	meta := fmt.Sprintf("Project %s - %s", d.ProjectName, d.FileType)
	if d.Pages > 0 {
		meta += fmt.Sprintf(" - %d pages", d.Pages)
	}
	meta += " - uploaded " + date(d.UploadedAt)
	if d.UploadedBy != "" {
		meta += " by " + d.UploadedBy
	}
	meta += " - analysis " + d.Status
	if d.Analyzer != "" {
		meta += " (" + d.Analyzer + ")"
	}
	pdf.MultiCell(0, 4.5, t(meta), "", "L", false)
	gen := "Report generated " + date(d.GeneratedAt)
	if d.RequestedBy != "" {
		gen += " for " + d.RequestedBy
	}
	pdf.MultiCell(0, 4.5, t(gen), "", "L", false)
	pdf.SetTextColor(28, 40, 51)

	if d.Summary != "" {
		heading("Summary")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, t(d.Summary), "", "L", false)
		if d.SummaryBy != "" {
			pdf.SetFont("Helvetica", "I", 8.5)
			pdf.MultiCell(0, 4.5, t("Summary by "+d.SummaryBy), "", "L", false)
		}
	}
	heading("Document facts")
	if len(d.Facts) == 0 {
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, "No facts were found.", "", "L", false)
	}
	for _, f := range d.Facts {
		pdf.SetFont("Helvetica", "B", 10)
		y := pdf.GetY()
		pdf.MultiCell(50, 5, t(f.Label), "", "L", false)
		y2 := pdf.GetY()
		pdf.SetXY(lm+50, y)
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(usable-50, 5, t(f.Value), "", "L", false)
		pdf.SetY(max(pdf.GetY(), y2))
	}

	heading("Risk distribution")
	dist := d.Distribution()
	maxN := 1
	for _, n := range dist {
		maxN = max(maxN, n)
	}
	for _, r := range Risks {
		y := pdf.GetY()
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(25, 7, strings.ToUpper(r[:1])+r[1:], "", 0, "L", false, 0, "")
		rgb := hexRGB(RiskColor[r])
		pdf.SetFillColor(rgb[0], rgb[1], rgb[2])
		bw := float64(dist[r]) / float64(maxN) * (usable - 45)
		if dist[r] > 0 && bw < 1 {
			bw = 1
		}
		if bw > 0 {
			pdf.Rect(lm+25, y+1, bw, 5, "F")
		}
		pdf.SetXY(lm+25+bw+2, y)
		pdf.CellFormat(15, 7, strconv.Itoa(dist[r]), "", 1, "L", false, 0, "")
	}

	heading("Clauses by category")
	cols := []float64{usable - 80, 20, 20, 20, 20}
	header := func(names ...string) {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.SetFillColor(244, 246, 247)
		for i, n := range names {
			pdf.CellFormat(cols[i], 6, n, "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
	}
	header("Category", "Clauses", "High", "Medium", "Low")
	pdf.SetFont("Helvetica", "", 9)
	for _, c := range d.Categories() {
		pdf.CellFormat(cols[0], 6, t(c.Category), "1", 0, "L", false, 0, "")
		for i, n := range []int{c.Count, c.High, c.Medium, c.Low} {
			pdf.CellFormat(cols[i+1], 6, strconv.Itoa(n), "1", 0, "R", false, 0, "")
		}
		pdf.Ln(-1)
	}

	heading("Clauses")
	clauses := d.ClausesByRisk()
	if len(clauses) == 0 {
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, "No clauses.", "", "L", false)
	}
	for _, c := range clauses {
		rgb := hexRGB(RiskColor[c.Risk])
		pdf.SetFont("Helvetica", "B", 10)
		pdf.SetTextColor(rgb[0], rgb[1], rgb[2])
		pdf.CellFormat(22, 5.5, strings.ToUpper(c.Risk), "", 0, "L", false, 0, "")
		pdf.SetTextColor(28, 40, 51)
		title := fmt.Sprintf("#%d %s (%.0f%%)", c.Ordinal, c.Category, c.Confidence*100)
		if c.Decision != "" {
			title += " - decision: " + c.Decision
		}
		pdf.MultiCell(0, 5.5, t(title), "", "L", false)
		pdf.SetFont("Helvetica", "", 9.5)
		if c.Heading != "" {
			pdf.MultiCell(0, 4.5, t(c.Heading), "", "L", false)
		}
		if c.Explanation != "" {
			pdf.MultiCell(0, 4.5, t(c.Explanation), "", "L", false)
		}
		pdf.SetTextColor(80, 80, 80)
		pdf.SetFont("Helvetica", "I", 8.5)
		pdf.MultiCell(0, 4, t(excerpt(c.Text, 400)), "", "L", false)
		pdf.SetTextColor(28, 40, 51)
		pdf.Ln(2)
	}

	heading("Review decisions")
	if len(d.Decisions) == 0 {
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, "No decisions have been recorded.", "", "L", false)
	}
	for _, dec := range d.Decisions {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.MultiCell(0, 5, t(fmt.Sprintf("#%d %s: %s", dec.ClauseOrdinal, dec.Category, dec.Decision)), "", "L", false)
		pdf.SetFont("Helvetica", "", 9)
		line := "by " + dec.By + " on " + date(dec.At)
		if dec.Comment != "" {
			line += " - " + dec.Comment
		}
		pdf.MultiCell(0, 4.5, t(line), "", "L", false)
		pdf.Ln(1)
	}
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("render pdf: %w", err)
	}
	return pdf.Output(w)
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
