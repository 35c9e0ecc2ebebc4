package worker

import (
	"context"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
)

// Facts are the document-level facts of the "classifying" stage, stored as
// documents.facts (JSON object).
type Facts map[string]any

// Segment is one clause as split from the text, before classification.
// Start and End are its byte offsets in the text (End exclusive).
type Segment struct {
	Ordinal    int
	Heading    string
	Text       string
	Start, End int
}

// Clause is a classified, risk-rated clause ready to store.
type Clause struct {
	Ordinal int
	Heading string
	Text    string
	// Start and End are byte offsets in the document text, PageStart and
	// PageEnd the pages they fall on.
	Start, End         int
	PageStart, PageEnd int
	Category           string
	Confidence         float64
	Risk               string // low | medium | high
	Explanation        string
	Embedding          []float32
	// EmbeddingModel is the embedder of Embedding (see docAnalyzer.Embed).
	EmbeddingModel string
}

// Assessment is a risk rating of one clause.
type Assessment struct {
	Risk        string
	Explanation string
}

// Classification is the category of one clause.
type Classification struct {
	Category   string
	Confidence float64
}

// Analyzer is the analysis the pipeline runs on a document's text. The
// offline implementation (services/internal/analysis) is always available;
// AI providers replace individual steps when configured (see ai.go).
type Analyzer interface {
	// Name identifies the analyzer for documents.analyzer, e.g. "offline/v1".
	Name() string
	Facts(ctx context.Context, text string) (Facts, error)
	Split(text string) []Segment
	Classify(ctx context.Context, segs []Segment) ([]Classification, error)
	// Assess rates the clauses against the document's project's playbook.
	Assess(ctx context.Context, pb *analysis.Playbook, segs []Segment, cls []Classification) ([]Assessment, error)
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}
