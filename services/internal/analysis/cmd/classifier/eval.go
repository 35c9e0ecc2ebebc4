package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// counts are per-category confusion counts at clause (paragraph) level.
type counts struct{ tp, fp, fn []int }

func newCounts(C int) *counts {
	return &counts{tp: make([]int, C), fp: make([]int, C), fn: make([]int, C)}
}

func (k *counts) add(gold, pred uint64) {
	for c := range k.tp {
		g, p := gold&(1<<c) != 0, pred&(1<<c) != 0
		switch {
		case g && p:
			k.tp[c]++
		case p:
			k.fp[c]++
		case g:
			k.fn[c]++
		}
	}
}

func prf(tp, fp, fn int) (p, r, f float64) {
	if tp+fp > 0 {
		p = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r = float64(tp) / float64(tp+fn)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return
}

// micro returns micro-averaged P/R/F1 over the yes/no clause categories.
func (k *counts) micro(cats []string) (p, r, f float64) {
	var tp, fp, fn int
	for c, name := range cats {
		if analysis.IsClauseCategory(name) {
			tp, fp, fn = tp+k.tp[c], fp+k.fp[c], fn+k.fn[c]
		}
	}
	return prf(tp, fp, fn)
}

func (k *counts) macro(cats []string) float64 {
	var sum float64
	n := 0
	for c, name := range cats {
		if analysis.IsClauseCategory(name) {
			_, _, f := prf(k.tp[c], k.fp[c], k.fn[c])
			sum += f
			n++
		}
	}
	return sum / float64(n)
}

func modelLabels(m *analysis.Model, cats []string, c labelledClause) uint64 {
	idx := map[string]int{}
	for i, c := range cats {
		idx[c] = i
	}
	var out uint64
	for _, l := range m.Predict(c.in).Labels {
		out |= 1 << idx[l]
	}
	return out
}

// evaluate scores the model and the keyword baseline on one split.
func evaluate(m *analysis.Model, ds *dataset, s split) (model, base *counts) {
	cats := ds.categories
	if mc := m.Categories(); strings.Join(mc, "|") != strings.Join(cats, "|") {
		panic("model categories differ from the data set's")
	}
	model, base = newCounts(len(cats)), newCounts(len(cats))
	bl := newBaseline(cats)
	for _, c := range ds.clauses(s) {
		model.add(c.labels, modelLabels(m, cats, c))
		base.add(c.labels, bl.predict(c.in.Heading, c.in.Text))
	}
	return model, base
}

func printTable(w io.Writer, title string, cats []string, k *counts) {
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "%-36s %7s %6s %6s %6s\n", "category", "support", "P", "R", "F1")
	for c, name := range cats {
		p, r, f := prf(k.tp[c], k.fp[c], k.fn[c])
		mark := " "
		if !analysis.IsClauseCategory(name) {
			mark = "*"
		}
		fmt.Fprintf(w, "%-35s%s %7d %6.3f %6.3f %6.3f\n", name, mark, k.tp[c]+k.fn[c], p, r, f)
	}
	p, r, f := k.micro(cats)
	fmt.Fprintf(w, "%-36s %7s %6.3f %6.3f %6.3f\n", "MICRO (33 yes/no categories)", "", p, r, f)
	fmt.Fprintf(w, "%-36s %7s %6s %6s %6.3f\n", "MACRO-F1 (33 yes/no categories)", "", "", "", k.macro(cats))
	fmt.Fprintln(w, "(* value category, not in the micro/macro averages)")
}

// printSummary lists the best and worst yes/no categories of the model.
func printSummary(w io.Writer, cats []string, model, base *counts) {
	type row struct {
		name string
		f    float64
	}
	var rows []row
	for c, name := range cats {
		if analysis.IsClauseCategory(name) {
			_, _, f := prf(model.tp[c], model.fp[c], model.fn[c])
			rows = append(rows, row{name, f})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].f > rows[j].f })
	_, _, fm := model.micro(cats)
	_, _, fb := base.micro(cats)
	fmt.Fprintf(w, "\nSUMMARY micro-F1 (33 yes/no categories): model %.3f, keyword baseline %.3f\n", fm, fb)
	var top, bottom []string
	for i := 0; i < 5 && i < len(rows); i++ {
		top = append(top, fmt.Sprintf("%s %.2f", rows[i].name, rows[i].f))
		r := rows[len(rows)-1-i]
		bottom = append(bottom, fmt.Sprintf("%s %.2f", r.name, r.f))
	}
	fmt.Fprintf(w, "top: %s\nbottom: %s\n", strings.Join(top, "; "), strings.Join(bottom, "; "))
}

// printCalibration shows how far the calibrated probabilities and the
// confidence words can be trusted on a split: the primary category's
// precision per word, and observed frequency per probability bin.
func printCalibration(w io.Writer, m *analysis.Model, ds *dataset, s split) {
	cats := ds.categories
	idx := map[string]int{}
	for i, c := range cats {
		idx[c] = i
	}
	type acc struct{ n, ok int }
	words := map[string]*acc{}
	var bins [10]struct {
		n   int
		sum float64
		pos int
	}
	for _, c := range ds.clauses(s) {
		p := m.Predict(c.in)
		if p.Category != analysis.Other {
			a := words[p.Likelihood]
			if a == nil {
				a = &acc{}
				words[p.Likelihood] = a
			}
			a.n++
			if c.labels&(1<<idx[p.Category]) != 0 {
				a.ok++
			}
		}
		for k, sc := range p.Scores {
			if !analysis.IsClauseCategory(cats[k]) {
				continue
			}
			b := min(9, int(sc*10))
			bins[b].n++
			bins[b].sum += sc
			if c.labels&(1<<k) != 0 {
				bins[b].pos++
			}
		}
	}
	fmt.Fprintf(w, "\nCONFIDENCE WORDS (primary category of a clause; right = a labelled category)\n")
	for _, word := range []string{"likely", "possible"} {
		if a := words[word]; a != nil {
			fmt.Fprintf(w, "%-10s %6d clauses, %5.1f%% right\n", word, a.n, 100*float64(a.ok)/float64(max(1, a.n)))
		}
	}
	fmt.Fprintf(w, "\nCALIBRATION (33 yes/no categories, every clause and category)\n%-10s %8s %9s %9s\n", "bin", "pairs", "mean p", "observed")
	for b, x := range bins {
		if x.n == 0 {
			continue
		}
		fmt.Fprintf(w, "%.1f-%.1f    %8d %9.3f %9.3f\n", float64(b)/10, float64(b+1)/10, x.n, x.sum/float64(x.n), float64(x.pos)/float64(x.n))
	}
}
