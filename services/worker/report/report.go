// Package report renders the per-document report: the document's facts and
// key dates, every clause by category and risk (the uncategorised "Other"
// clauses summarised in a line each), the review decisions with who and
// when, and a chart of the risk distribution — and the project report, the
// same for every document of a project after an overview — as HTML
// (html/template, inline SVG chart, no external resources) and as PDF
// (go-pdf/fpdf, core fonts).
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Data is everything a report shows.
type Data struct {
	DocumentName string
	ProjectName  string
	FileType     string
	Pages        int
	Status       string
	Analyzer     string
	UploadedBy   string
	UploadedAt   time.Time
	CompletedAt  *time.Time
	GeneratedAt  time.Time
	RequestedBy  string
	// Summary is a short overview; SummaryBy names its author (a provider
	// label, or "offline" for the built-in summary).
	Summary   string
	SummaryBy string
	Facts     []Fact
	KeyDates  []KeyDate
	Clauses   []Clause
	Decisions []Decision
}

// KeyDate is a deadline computed from the facts (services/internal/keydates).
type KeyDate struct {
	Date      string // YYYY-MM-DD
	Title     string
	Detail    string
	Tentative bool
	Document  string // the document's name, in a project report
}

// Fact is one document-level fact.
type Fact struct{ Label, Value string }

// Clause is one analysed clause.
type Clause struct {
	Ordinal     int
	Heading     string
	Category    string
	Confidence  float64
	Risk        string
	Explanation string
	Text        string
	Decision    string // latest decision, or ""
}

// Decision is one review decision on a clause.
type Decision struct {
	ClauseOrdinal int
	Category      string
	Decision      string // accept | reject | negotiate
	Comment       string
	By            string // "Name <email>"
	At            time.Time
}

// Risks are the risk levels in display order.
var Risks = []string{"high", "medium", "low"}

// RiskColor is the colour of a risk level in the chart and the tables.
var RiskColor = map[string]string{"high": "#c0392b", "medium": "#d68910", "low": "#1e8449"}

// CategoryRow is a line of the category summary.
type CategoryRow struct {
	Category string
	Count    int
	High     int
	Medium   int
	Low      int
}

// Distribution counts clauses per risk level.
func (d *Data) Distribution() map[string]int {
	out := map[string]int{"high": 0, "medium": 0, "low": 0}
	for _, c := range d.Clauses {
		out[c.Risk]++
	}
	return out
}

// Categories summarises clauses by category: riskiest first, then by count.
func (d *Data) Categories() []CategoryRow {
	idx := map[string]*CategoryRow{}
	var rows []*CategoryRow
	for _, c := range d.Clauses {
		r := idx[c.Category]
		if r == nil {
			r = &CategoryRow{Category: c.Category}
			idx[c.Category] = r
			rows = append(rows, r)
		}
		r.Count++
		switch c.Risk {
		case "high":
			r.High++
		case "medium":
			r.Medium++
		default:
			r.Low++
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.High != b.High {
			return a.High > b.High
		}
		if a.Medium != b.Medium {
			return a.Medium > b.Medium
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Category < b.Category
	})
	out := make([]CategoryRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out
}

// ClausesByRisk returns the clauses shown in full, high risk first, then by
// position: every clause except the "Other" clauses of low risk, which
// OtherClauses lists in short.
func (d *Data) ClausesByRisk() []Clause {
	rank := map[string]int{"high": 0, "medium": 1, "low": 2}
	var out []Clause
	for _, c := range d.Clauses {
		if !summarised(c) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Risk] != rank[out[j].Risk] {
			return rank[out[i].Risk] < rank[out[j].Risk]
		}
		return out[i].Ordinal < out[j].Ordinal
	})
	return out
}

func summarised(c Clause) bool { return c.Category == "Other" && c.Risk == "low" }

// OtherClauses are the low-risk clauses in no category, in document order:
// a report names each in one line (OtherLine) instead of in full.
func (d *Data) OtherClauses() []Clause {
	var out []Clause
	for _, c := range d.Clauses {
		if summarised(c) {
			out = append(out, c)
		}
	}
	return out
}

// OtherLine is a clause in one short line: its number, heading and first words.
func OtherLine(c Clause) string {
	line := fmt.Sprintf("§%d", c.Ordinal)
	text := strings.Join(strings.Fields(c.Text), " ")
	if heading := strings.Join(strings.Fields(c.Heading), " "); heading != "" {
		line += " " + excerpt(heading, 60)
		text = strings.TrimLeft(strings.TrimPrefix(text, heading), " .:-")
	}
	if first := excerpt(text, 90); first != "" {
		line += " — " + first
	}
	return line
}

// Outstanding counts the clauses without a decision.
func (d *Data) Outstanding() int {
	n := 0
	for _, c := range d.Clauses {
		if c.Decision == "" {
			n++
		}
	}
	return n
}

// Project is the report of a whole project.
type Project struct {
	ProjectName string
	GeneratedAt time.Time
	RequestedBy string
	Documents   []*Data
	KeyDates    []KeyDate
	// Truncated is how many documents were left out (a report holds at
	// most a bounded number; the newest are kept).
	Truncated int
}

// Distribution counts the clauses of every document per risk level.
func (p *Project) Distribution() map[string]int {
	out := map[string]int{"high": 0, "medium": 0, "low": 0}
	for _, d := range p.Documents {
		for k, n := range d.Distribution() {
			out[k] += n
		}
	}
	return out
}

// Summary is the project report's overview sentence.
func (p *Project) Summary() string {
	dist, clauses, open := p.Distribution(), 0, 0
	for _, d := range p.Documents {
		clauses += len(d.Clauses)
		open += d.Outstanding()
	}
	s := fmt.Sprintf("%d documents with %d analyzed clauses: %d high risk, %d medium risk and %d low risk; %d clauses await a decision.",
		len(p.Documents), clauses, dist["high"], dist["medium"], dist["low"], open)
	switch n := len(p.KeyDates); n {
	case 0:
	case 1:
		s += " One key date (a renewal, expiration or notice deadline) is listed below."
	default:
		s += fmt.Sprintf(" %d key dates (renewals, expirations and notice deadlines) are listed below.", n)
	}
	return s
}

// OfflineSummary is the built-in summary: what the document is, how many
// clauses, and which categories carry high and medium risk.
func OfflineSummary(d *Data) string {
	var b strings.Builder
	kind := "The document"
	for _, f := range d.Facts {
		if f.Label == "Document type" && f.Value != "" {
			kind = "This " + f.Value
		}
	}
	b.WriteString(kind)
	for _, f := range d.Facts {
		if f.Label == "Parties" && f.Value != "" {
			b.WriteString(" between " + f.Value)
		}
	}
	dist := d.Distribution()
	fmt.Fprintf(&b, " has %d analyzed clauses: %d high risk, %d medium risk and %d low risk.", len(d.Clauses), dist["high"], dist["medium"], dist["low"])
	for _, level := range []string{"high", "medium"} {
		var cats []string
		seen := map[string]bool{}
		for _, c := range d.Clauses {
			if c.Risk == level && !seen[c.Category] {
				seen[c.Category] = true
				cats = append(cats, c.Category)
			}
		}
		if len(cats) > 0 {
			fmt.Fprintf(&b, " %s-risk categories: %s.", strings.ToUpper(level[:1])+level[1:], strings.Join(cats, ", "))
		}
	}
	return b.String()
}
