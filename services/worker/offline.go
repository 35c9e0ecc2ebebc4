package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/playbook"
)

// offlineAnalyzer adapts services/internal/analysis (the built-in
// classifier, facts extractor, risk playbook and embedder) to Analyzer.
type offlineAnalyzer struct {
	once  sync.Once
	model *analysis.Model
	err   error
}

// NewOfflineAnalyzer returns the built-in analyzer. The classifier model is
// loaded on first use.
func NewOfflineAnalyzer() Analyzer { return &offlineAnalyzer{} }

func (o *offlineAnalyzer) load() (*analysis.Model, error) {
	o.once.Do(func() {
		o.model, o.err = analysis.DefaultModel()
		if o.err != nil {
			o.err = fmt.Errorf("load offline classifier: %w", o.err)
		}
	})
	return o.model, o.err
}

func (o *offlineAnalyzer) Name() string {
	if m, err := o.load(); err == nil {
		return "offline/" + m.Version()
	}
	return "offline"
}

func (o *offlineAnalyzer) Facts(ctx context.Context, text string) (Facts, error) {
	b, err := json.Marshal(analysis.ExtractFacts(text))
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := Facts{}
	for k, v := range all { // keep only what was found
		switch x := v.(type) {
		case nil:
		case string:
			if x != "" {
				out[k] = x
			}
		case []any:
			if len(x) > 0 {
				out[k] = x
			}
		default:
			out[k] = x
		}
	}
	return out, nil
}

func (o *offlineAnalyzer) Split(text string) []Segment {
	cs := analysis.SplitClauses(text)
	out := make([]Segment, 0, len(cs))
	for _, c := range cs {
		body := strings.TrimSpace(c.Text)
		if body == "" {
			// A heading with no body (e.g. a signature block's names): keep
			// its words as the clause text; clauses.text must not be empty.
			body = strings.TrimSpace(c.Heading)
		}
		if body == "" {
			continue
		}
		out = append(out, Segment{Ordinal: len(out) + 1, Heading: c.Heading, Text: body, Start: c.Start, End: c.End})
	}
	return out
}

func toClauses(segs []Segment) []analysis.Clause {
	cs := make([]analysis.Clause, len(segs))
	for i, s := range segs {
		cs[i] = analysis.Clause{Ordinal: s.Ordinal, Heading: s.Heading, Text: s.Text}
	}
	return cs
}

func (o *offlineAnalyzer) Classify(ctx context.Context, segs []Segment) ([]Classification, error) {
	m, err := o.load()
	if err != nil {
		return nil, err
	}
	preds := m.Classify(toClauses(segs))
	out := make([]Classification, len(segs))
	for i, p := range preds {
		out[i] = Classification{Category: p.Category, Confidence: p.Confidence}
	}
	return out, nil
}

func (o *offlineAnalyzer) Assess(ctx context.Context, pb *analysis.Playbook, segs []Segment, cls []Classification) ([]Assessment, error) {
	out := make([]Assessment, len(segs))
	for i, s := range segs {
		out[i].Risk, out[i].Explanation = pb.Assess(cls[i].Category, s.Text)
	}
	return out, nil
}

func (o *offlineAnalyzer) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = analysis.Embed(t)
	}
	return out, nil
}

// clauseCategories are the category names a clause may take: CUAD's
// categories that are clause types (values such as Document Name or the
// dates are facts, not clauses).
func clauseCategories() []string {
	var out []string
	for _, c := range analysis.Categories() {
		if analysis.IsClauseType(c) {
			out = append(out, c)
		}
	}
	return out
}

// loadPlaybook reads the playbook of a project (its own rules, then the
// installation's with its overrides; see services/internal/playbook). An
// empty table means the default playbook. Invalid rules (stored before
// rules were validated) are skipped with a warning rather than failing
// documents.
func (w *Worker) loadPlaybook(ctx context.Context, projectID string) (*analysis.Playbook, error) {
	rules, err := playbook.ForProject(ctx, w.pool, projectID)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return analysis.DefaultPlaybook(), nil
	}
	c, skipped := playbook.Compile(rules)
	for _, err := range skipped {
		w.log.Warn("invalid playbook rule skipped", "project_id", projectID, "error", err)
	}
	return c.Playbook(), nil
}
