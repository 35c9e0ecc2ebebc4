package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// chartBar is one bar of the risk chart.
type chartBar struct {
	Label  string
	Count  int
	Color  string
	Y      int
	Width  int
	TextX  int
	LabelY int
}

// chart lays out a horizontal bar chart of a risk distribution.
func chart(dist map[string]int) []chartBar {
	maxN := 1
	for _, n := range dist {
		maxN = max(maxN, n)
	}
	const barMax = 300
	var out []chartBar
	for i, r := range Risks {
		w := dist[r] * barMax / maxN
		if dist[r] > 0 {
			w = max(w, 2)
		}
		out = append(out, chartBar{Label: strings.ToUpper(r[:1]) + r[1:], Count: dist[r], Color: RiskColor[r],
			Y: 10 + i*34, Width: w, TextX: 90 + w + 8, LabelY: 10 + i*34 + 17})
	}
	return out
}

var funcs = template.FuncMap{
	"date":      fmtDate,
	"pct":       func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"riskColor": func(r string) string { return RiskColor[r] },
	"excerpt":   func(s string) string { return excerpt(s, 400) },
	"otherLine": OtherLine,
}

func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], ' '); i > n/2 {
		cut = i
	}
	return s[:cut] + " …"
}

const style = `body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1c2833;margin:2rem auto;max-width:60rem;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;border-bottom:2px solid #d5d8dc;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem;margin-top:1.5rem} .doc{margin-top:3rem;border-top:4px solid #1c2833;padding-top:.5rem}
.meta{color:#566573;font-size:.9rem} table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{border:1px solid #d5d8dc;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f7} .risk{font-weight:bold;text-transform:uppercase;font-size:.8rem} .num{text-align:right}
.excerpt{color:#424949;font-size:.85rem} dl{display:grid;grid-template-columns:12rem 1fr;gap:.25rem 1rem} dt{font-weight:bold}
.other{font-size:.85rem;color:#424949;padding-left:1.2rem} .tentative{color:#9a6700;font-weight:bold}`

var page = template.Must(template.New("report").Funcs(funcs).Parse(`{{define "keydates"}}{{if .}}<table><thead><tr><th>Date</th><th>Deadline</th>{{if (index . 0).Document}}<th>Document</th>{{end}}<th>How it was computed</th></tr></thead>
<tbody>{{range .}}<tr><td>{{.Date}}{{if .Tentative}} <span class="tentative">tentative</span>{{end}}</td><td>{{.Title}}</td>{{if .Document}}<td>{{.Document}}</td>{{end}}<td>{{.Detail}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No renewal, expiration or notice date could be computed from the facts.</p>{{end}}{{end}}

{{define "clauses"}}<table><thead><tr><th>#</th><th>Category</th><th>Risk</th><th>Assessment</th><th>Decision</th></tr></thead>
<tbody>{{range .ClausesByRisk}}<tr><td class="num">{{.Ordinal}}</td><td>{{.Category}}<br><span class="meta">{{pct .Confidence}}</span></td>
<td class="risk" style="color:{{riskColor .Risk}}">{{.Risk}}</td>
<td>{{if .Heading}}<strong>{{.Heading}}</strong><br>{{end}}{{.Explanation}}<div class="excerpt">{{excerpt .Text}}</div></td><td>{{.Decision}}</td></tr>
{{else}}<tr><td colspan="5">No clauses.</td></tr>{{end}}</tbody></table>
{{with .OtherClauses}}<p><strong>Other clauses ({{len .}})</strong>: low risk, in no category; each by its first words.</p>
<ul class="other">{{range .}}<li>{{otherLine .}}{{if .Decision}} ({{.Decision}}){{end}}</li>{{end}}</ul>{{end}}{{end}}

{{define "decisions"}}{{if .}}<table><thead><tr><th>Clause</th><th>Decision</th><th>Comment</th><th>By</th><th>When</th></tr></thead>
<tbody>{{range .}}<tr><td>#{{.ClauseOrdinal}} {{.Category}}</td><td>{{.Decision}}</td><td>{{.Comment}}</td><td>{{.By}}</td><td>{{date .At}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No decisions have been recorded.</p>{{end}}{{end}}

{{define "facts"}}{{if .}}<dl>{{range .}}<dt>{{.Label}}</dt><dd>{{.Value}}</dd>{{end}}</dl>{{else}}<p>No facts were found.</p>{{end}}{{end}}

{{define "chart"}}<svg xmlns="http://www.w3.org/2000/svg" width="480" height="{{.Height}}" role="img" aria-label="Clauses by risk level">
{{range .Bars}}<text x="0" y="{{.LabelY}}" font-size="14" font-family="Helvetica,Arial,sans-serif">{{.Label}}</text>
<rect x="90" y="{{.Y}}" width="{{.Width}}" height="24" fill="{{.Color}}"><title>{{.Label}}: {{.Count}}</title></rect>
<text x="{{.TextX}}" y="{{.LabelY}}" font-size="14" font-family="Helvetica,Arial,sans-serif">{{.Count}}</text>
{{end}}</svg>{{end}}

{{define "document"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Contract report: {{.D.DocumentName}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.D.DocumentName}}</h1>
<p class="meta">Project {{.D.ProjectName}} · {{.D.FileType}}{{if .D.Pages}} · {{.D.Pages}} pages{{end}} · uploaded {{date .D.UploadedAt}}{{if .D.UploadedBy}} by {{.D.UploadedBy}}{{end}} · analysis {{.D.Status}}<br>
Report generated {{date .D.GeneratedAt}}{{if .D.RequestedBy}} for {{.D.RequestedBy}}{{end}}</p>

{{if .D.Summary}}<h2>Summary</h2>
<p>{{.D.Summary}}</p>{{if .D.SummaryBy}}<p class="meta">Summary by {{.D.SummaryBy}}</p>{{end}}{{end}}

<h2>Document facts</h2>
{{template "facts" .D.Facts}}

<h2>Key dates</h2>
{{template "keydates" .D.KeyDates}}

<h2>Risk distribution</h2>
{{template "chart" .Chart}}

<h2>Clauses by category</h2>
<table><thead><tr><th>Category</th><th class="num">Clauses</th><th class="num">High</th><th class="num">Medium</th><th class="num">Low</th></tr></thead>
<tbody>{{range .D.Categories}}<tr><td>{{.Category}}</td><td class="num">{{.Count}}</td><td class="num">{{.High}}</td><td class="num">{{.Medium}}</td><td class="num">{{.Low}}</td></tr>
{{end}}</tbody></table>

<h2>Clauses</h2>
{{template "clauses" .D}}

<h2>Review decisions</h2>
{{template "decisions" .D.Decisions}}
</body>
</html>
{{end}}

{{define "project"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Project report: {{.P.ProjectName}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>{{.P.ProjectName}}</h1>
<p class="meta">Project report generated {{date .P.GeneratedAt}}{{if .P.RequestedBy}} for {{.P.RequestedBy}}{{end}}</p>
<h2>Summary</h2>
<p>{{.P.Summary}}</p>
{{if .P.Truncated}}<p class="meta">{{.P.Truncated}} older documents are not in this report.</p>{{end}}
{{template "chart" .Chart}}

<h2>Documents</h2>
<table><thead><tr><th>Document</th><th>Analysis</th><th class="num">Clauses</th><th class="num">High</th><th class="num">Medium</th><th class="num">Low</th><th class="num">Awaiting a decision</th></tr></thead>
<tbody>{{range .P.Documents}}{{$d := .Distribution}}<tr><td>{{.DocumentName}}</td><td>{{.Status}}</td><td class="num">{{len .Clauses}}</td><td class="num">{{index $d "high"}}</td><td class="num">{{index $d "medium"}}</td><td class="num">{{index $d "low"}}</td><td class="num">{{.Outstanding}}</td></tr>
{{else}}<tr><td colspan="7">The project has no documents.</td></tr>{{end}}</tbody></table>

<h2>Key dates</h2>
{{template "keydates" .P.KeyDates}}

{{range .P.Documents}}<section class="doc">
<h2>{{.DocumentName}}</h2>
<p class="meta">{{.FileType}}{{if .Pages}} · {{.Pages}} pages{{end}} · uploaded {{date .UploadedAt}}{{if .UploadedBy}} by {{.UploadedBy}}{{end}} · analysis {{.Status}}</p>
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
<h3>Facts</h3>
{{template "facts" .Facts}}
<h3>Clauses</h3>
{{template "clauses" .}}
<h3>Review decisions</h3>
{{template "decisions" .Decisions}}
</section>
{{end}}
</body>
</html>
{{end}}`))

type chartData struct {
	Bars   []chartBar
	Height int
}

func newChart(dist map[string]int) chartData {
	bars := chart(dist)
	return chartData{Bars: bars, Height: 20 + len(bars)*34}
}

// RenderHTML writes the report of a document as a self-contained HTML page.
func RenderHTML(w io.Writer, d *Data) error {
	return page.ExecuteTemplate(w, "document", map[string]any{"D": d, "Chart": newChart(d.Distribution()), "Style": template.CSS(style)})
}

// RenderProjectHTML writes the report of a project as a self-contained HTML page.
func RenderProjectHTML(w io.Writer, p *Project) error {
	return page.ExecuteTemplate(w, "project", map[string]any{"P": p, "Chart": newChart(p.Distribution()), "Style": template.CSS(style)})
}

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
