package worker

import (
	"context"
	"sync/atomic"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// docAnalyzer is the analyzer for one document: the offline analyzer, with
// individual steps replaced by AI providers where configured. It counts the
// tokens spent and names what was used.
type docAnalyzer struct {
	offline Analyzer
	// Steps served by providers (nil: offline).
	facts    func(ctx context.Context, text string) (Facts, int, error)
	classify func(ctx context.Context, segs []Segment) ([]Classification, int, error)
	assess   func(ctx context.Context, pb *analysis.Playbook, segs []Segment, cls []Classification) ([]Assessment, int, error)
	embed    func(ctx context.Context, texts []string) ([][]float32, int, error)
	// names of the providers actually used, in order of first use
	used     []string
	provider map[string]string // step -> provider label
	tokens   atomic.Int64
	fellBack func(step string, err error)
}

func (d *docAnalyzer) Tokens() int { return int(d.tokens.Load()) }

// Name is documents.analyzer: the offline analyzer's name, followed by the
// providers that served steps, e.g. "offline/v1+openai:gpt-4o-mini".
func (d *docAnalyzer) Name() string {
	name := d.offline.Name()
	for _, u := range d.used {
		name += "+" + u
	}
	return name
}

func (d *docAnalyzer) markUsed(step string) {
	label := d.provider[step]
	if label == "" {
		return
	}
	for _, u := range d.used {
		if u == label {
			return
		}
	}
	d.used = append(d.used, label)
}

func (d *docAnalyzer) fallback(step string, err error) {
	if d.fellBack != nil {
		d.fellBack(step, err)
	}
}

func (d *docAnalyzer) Split(text string) []Segment { return d.offline.Split(text) }

func (d *docAnalyzer) Facts(ctx context.Context, text string) (Facts, error) {
	offline, err := d.offline.Facts(ctx, text)
	if err != nil || d.facts == nil {
		return offline, err
	}
	ai, n, aerr := d.facts(ctx, text)
	d.tokens.Add(int64(n))
	if aerr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d.fallback("facts", aerr)
		return offline, nil
	}
	d.markUsed("facts")
	// Provider facts override offline ones; offline fills the gaps.
	for k, v := range ai {
		offline[k] = v
	}
	return offline, nil
}

func (d *docAnalyzer) Classify(ctx context.Context, segs []Segment) ([]Classification, error) {
	if d.classify != nil && len(segs) > 0 {
		cls, n, err := d.classify(ctx, segs)
		d.tokens.Add(int64(n))
		if err == nil && len(cls) == len(segs) {
			d.markUsed("classify")
			return cls, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d.fallback("classify", err)
	}
	return d.offline.Classify(ctx, segs)
}

func (d *docAnalyzer) Assess(ctx context.Context, pb *analysis.Playbook, segs []Segment, cls []Classification) ([]Assessment, error) {
	if d.assess != nil && len(segs) > 0 {
		as, n, err := d.assess(ctx, pb, segs, cls)
		d.tokens.Add(int64(n))
		if err == nil && len(as) == len(segs) {
			d.markUsed("assess")
			return as, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		d.fallback("assess", err)
	}
	return d.offline.Assess(ctx, pb, segs, cls)
}

// Embed returns the clause vectors and the embedder that made them (the
// provider's label, or analysis.EmbedderVersion offline): vectors of
// different embedders are never compared.
func (d *docAnalyzer) Embed(ctx context.Context, texts []string) ([][]float32, string, error) {
	if d.embed != nil && len(texts) > 0 {
		vecs, n, err := d.embed(ctx, texts)
		d.tokens.Add(int64(n))
		if err == nil && len(vecs) == len(texts) {
			d.markUsed("embed")
			return vecs, d.provider["embed"], nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		d.fallback("embed", err)
	}
	vecs, err := d.offline.Embed(ctx, texts)
	return vecs, analysis.EmbedderVersion, err
}

// analyzerFor builds the analyzer of one document from the current AI
// configuration (read per document, so admin changes apply to the next
// document without a restart).
func (w *Worker) analyzerFor(ctx context.Context) *docAnalyzer {
	d := &docAnalyzer{offline: w.offline, provider: map[string]string{}}
	d.fellBack = func(step string, err error) {
		w.log.Warn("AI provider step failed; offline analyzer used", "step", step, "provider", d.provider[step], "error", err)
	}
	w.configureProviders(ctx, d)
	return d
}
