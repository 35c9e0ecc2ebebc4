package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// split names the part of the data set a contract belongs to. The split is
// BY CONTRACT (a contract's clauses are all in one part) and fixed by a hash
// of the contract name: 65% train, 15% validation (threshold tuning), 20%
// test (reported, never tuned on).
type split int

const (
	splitTrain split = iota
	splitVal
	splitTest
)

func (s split) String() string { return [...]string{"train", "validation", "test"}[s] }

func splitOf(contract string) split {
	h := fnv.New32a()
	h.Write([]byte(contract))
	switch b := h.Sum32() % 20; {
	case b < 13:
		return splitTrain
	case b < 16:
		return splitVal
	default:
		return splitTest
	}
}

// labelledClause is a clause of a CUAD contract with the categories whose
// labelled spans cover it (bit i = analysis.Categories()[i]).
type labelledClause struct {
	in     analysis.FeatureInput
	labels uint64
	// partial marks categories whose spans overlap the clause too little to
	// label it; training may skip those (clause, category) pairs.
	partial uint64
	sents   []labelledSentence
}

// labelledSentence is a sentence of a clause with the categories whose spans
// cover it; unknown marks categories whose span could not be placed inside
// the clause text (not learnt from).
type labelledSentence struct {
	in      analysis.FeatureInput
	labels  uint64
	unknown uint64
}

type contract struct {
	name    string
	split   split
	text    string
	clauses []labelledClause
	spans   map[string][]string // category -> labelled spans
}

type dataset struct {
	categories []string
	contracts  []*contract
	spans      int // labelled spans
	found      int // spans located in the text
}

// loadCUAD reads txt/*.txt and labels.jsonl from dir, splits every contract
// with analysis.SplitClauses and labels each clause with the categories of
// the spans that cover it.
func loadCUAD(dir string) (*dataset, error) {
	cats := analysis.Categories()
	catIndex := map[string]int{}
	for i, c := range cats {
		catIndex[c] = i
	}
	f, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("open labels: %w", err)
	}
	defer f.Close()
	spans := map[string]map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec struct{ Contract, Category, Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("parse labels: %w", err)
		}
		cat, ok := analysis.CanonicalCategory(rec.Category)
		if !ok {
			return nil, fmt.Errorf("labels: unknown category %q", rec.Category)
		}
		if spans[rec.Contract] == nil {
			spans[rec.Contract] = map[string][]string{}
		}
		spans[rec.Contract][cat] = append(spans[rec.Contract][cat], rec.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "txt", "*.txt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	ds := &dataset{categories: cats}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		c := &contract{name: name, split: splitOf(name), text: string(b), spans: spans[name]}
		clauses := analysis.SplitClauses(c.text)
		for _, in := range analysis.FeatureInputs(clauses) {
			c.clauses = append(c.clauses, labelledClause{in: in})
		}
		sentsOf := make([][]analysis.Sentence, len(clauses))
		for i := range clauses {
			sentsOf[i] = analysis.SplitSentences(clauses[i].Text)
			if len(sentsOf[i]) == 0 { // SentenceInputs then reads the clause as one sentence
				sentsOf[i] = []analysis.Sentence{{Text: clauses[i].Text, End: len(clauses[i].Text)}}
			}
			for _, in := range analysis.SentenceInputs(c.clauses[i].in) {
				c.clauses[i].sents = append(c.clauses[i].sents, labelledSentence{in: in})
			}
		}
		var loc locator
		for _, cat := range cats {
			bit := uint64(1) << catIndex[cat]
			for _, s := range c.spans[cat] {
				ds.spans++
				start, end := loc.locate(c.text, s)
				if start < 0 {
					continue
				}
				ds.found++
				for i, cl := range clauses {
					overlap := min(end, cl.End) - max(start, cl.Start)
					if overlap <= 0 {
						continue
					}
					labelSentences(c.clauses[i].sents, sentsOf[i], cl.Text, c.text[max(start, cl.Start):min(end, cl.End)], bit)
					if float64(overlap) >= 0.5*float64(min(end-start, cl.End-cl.Start)) {
						c.clauses[i].labels |= bit
					} else {
						c.clauses[i].partial |= bit
					}
				}
			}
		}
		ds.contracts = append(ds.contracts, c)
	}
	if len(ds.contracts) == 0 {
		return nil, fmt.Errorf("no contracts in %s/txt", dir)
	}
	return ds, nil
}

// labelSentences labels the sentences of a clause that the part of a span
// inside the clause (source text) covers: at least half of the sentence or
// half of that part. When the part cannot be found in the clause's
// normalised text the category is unknown for all its sentences.
func labelSentences(ls []labelledSentence, ss []analysis.Sentence, clauseText, part string, bit uint64) {
	sub, _ := collapse(part)
	sub = strings.TrimSpace(sub)
	o := -1
	if len(sub) >= 8 {
		o = strings.Index(clauseText, sub)
	}
	for j, st := range ss {
		if o < 0 {
			ls[j].unknown |= bit
			continue
		}
		ov := min(o+len(sub), st.End) - max(o, st.Start)
		if ov > 0 && float64(ov) >= 0.5*float64(min(len(sub), st.End-st.Start)) {
			ls[j].labels |= bit
		}
	}
}

// locate finds span in text, exactly or else with whitespace runs collapsed,
// and returns its byte range in text (-1, -1 if absent).
type locator struct {
	norm string
	pos  []int
}

func (l *locator) locate(text, span string) (int, int) {
	span = strings.TrimSpace(span)
	if span == "" {
		return -1, -1
	}
	if i := strings.Index(text, span); i >= 0 {
		return i, i + len(span)
	}
	if l.pos == nil {
		l.norm, l.pos = collapse(text)
	}
	ns, _ := collapse(span)
	i := strings.Index(l.norm, ns)
	if i < 0 || ns == "" {
		return -1, -1
	}
	return l.pos[i], l.pos[i+len(ns)-1] + 1
}

// collapse replaces whitespace runs by one space and returns, for each byte
// of the result, its offset in s.
func collapse(s string) (string, []int) {
	var b strings.Builder
	pos := make([]int, 0, len(s))
	space := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				pos = append(pos, i)
			}
			space = true
			continue
		}
		space = false
		n := b.Len()
		b.WriteRune(r)
		for j := n; j < b.Len(); j++ {
			pos = append(pos, i+(j-n))
		}
	}
	return b.String(), pos
}

func (ds *dataset) clauses(s split) []labelledClause {
	var out []labelledClause
	for _, c := range ds.contracts {
		if c.split == s {
			out = append(out, c.clauses...)
		}
	}
	return out
}

func (ds *dataset) count(s split) (contracts, clauses int) {
	for _, c := range ds.contracts {
		if c.split == s {
			contracts++
			clauses += len(c.clauses)
		}
	}
	return
}
