package worker

import (
	"context"
	"fmt"
	"strings"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
	"github.com/contract-lucidity/contract-lucidity/services/worker/ai"
)

// AI capabilities (ai_capability_mappings.capability) and the pipeline step
// each one serves.
const (
	CapExtractionClassification = "extraction_classification" // clause categories
	CapDocumentUnderstanding    = "document_understanding"    // document facts
	CapReasoning                = "reasoning"                 // clause risk and explanation
	CapGeneration               = "generation"                // report summary
	CapEmbeddings               = "embeddings"                // clause vectors
)

// capabilityClient is a provider client bound to the model a capability uses.
type capabilityClient struct {
	client *ai.Client
	model  string
	label  string
}

// loadCapabilities reads the capability mappings of active providers and
// decrypts their keys (in memory only). Providers whose key cannot be
// decrypted are skipped with a warning that names the provider, not the key.
func (w *Worker) loadCapabilities(ctx context.Context) (map[string]capabilityClient, error) {
	rows, err := w.pool.Query(ctx, `SELECT m.capability, p.name, p.kind, p.base_url, p.model, p.embedding_model,
			p.api_key_encrypted, m.model
		FROM ai_capability_mappings m JOIN ai_providers p ON p.id = m.provider_id
		WHERE p.active`)
	if err != nil {
		return nil, fmt.Errorf("read AI capability mappings: %w", err)
	}
	defer rows.Close()
	var box *secretbox.Box
	if len(w.cfg.EncryptionKey) > 0 {
		if box, err = secretbox.New(w.cfg.EncryptionKey, w.cfg.EncryptionPreviousKeys...); err != nil {
			return nil, fmt.Errorf("ENCRYPTION_KEY: %w", err)
		}
	}
	out := map[string]capabilityClient{}
	for rows.Next() {
		var (
			capability, mapModel string
			p                    ai.Provider
			sealed               []byte
		)
		if err := rows.Scan(&capability, &p.Name, &p.Kind, &p.BaseURL, &p.Model, &p.EmbeddingModel, &sealed, &mapModel); err != nil {
			return nil, fmt.Errorf("read AI capability mappings: %w", err)
		}
		if len(sealed) > 0 {
			if box == nil {
				w.log.Warn("AI provider has a key but ENCRYPTION_KEY is not set; offline analyzer used", "provider", p.Name)
				continue
			}
			key, err := box.OpenString(sealed)
			if err != nil {
				w.log.Warn("AI provider key cannot be decrypted (ENCRYPTION_KEY changed?); offline analyzer used", "provider", p.Name)
				continue
			}
			p.APIKey = ai.Secret(key)
		}
		model := mapModel
		if model == "" && capability == CapEmbeddings {
			model = p.EmbeddingModel
		}
		if model == "" {
			model = p.Model
		}
		if model == "" {
			w.log.Warn("AI capability mapped to a provider without a model; offline analyzer used", "capability", capability, "provider", p.Name)
			continue
		}
		if capability == CapEmbeddings && p.Kind != ai.KindOpenAI {
			w.log.Warn("embeddings need an OpenAI-compatible provider; offline embedder used", "provider", p.Name)
			continue
		}
		out[capability] = capabilityClient{
			client: ai.NewClient(p, ai.Options{HTTPClient: w.http}),
			model:  model, label: p.Label(model),
		}
	}
	return out, rows.Err()
}

// configureProviders replaces the analyzer's steps by the configured
// providers. Any failure to read the configuration leaves the offline
// analyzer in place.
func (w *Worker) configureProviders(ctx context.Context, d *docAnalyzer) {
	caps, err := w.loadCapabilities(ctx)
	if err != nil {
		w.log.Warn("AI configuration unreadable; offline analyzer used", "error", err)
		return
	}
	if cc, ok := caps[CapDocumentUnderstanding]; ok {
		d.provider["facts"] = cc.label
		d.facts = func(ctx context.Context, text string) (Facts, int, error) {
			f, n, err := ai.ExtractFacts(ctx, cc.client, cc.model, text)
			return Facts(f), n, err
		}
	}
	if cc, ok := caps[CapExtractionClassification]; ok {
		d.provider["classify"] = cc.label
		d.classify = func(ctx context.Context, segs []Segment) ([]Classification, int, error) {
			res, n, err := ai.ClassifyClauses(ctx, cc.client, cc.model, clauseCategories(), clauseInputs(segs, nil))
			if err != nil {
				return nil, n, err
			}
			out := make([]Classification, len(res))
			for i, r := range res {
				out[i] = Classification{Category: r.Category, Confidence: r.Confidence}
			}
			return out, n, nil
		}
	}
	if cc, ok := caps[CapReasoning]; ok {
		d.provider["assess"] = cc.label
		d.assess = func(ctx context.Context, pb *analysis.Playbook, segs []Segment, cls []Classification) ([]Assessment, int, error) {
			res, n, err := ai.AssessRisks(ctx, cc.client, cc.model, playbookText(pb), clauseInputs(segs, cls))
			if err != nil {
				return nil, n, err
			}
			out := make([]Assessment, len(res))
			for i, r := range res {
				out[i] = Assessment{Risk: r.Risk, Explanation: r.Explanation}
			}
			return out, n, nil
		}
	}
	if cc, ok := caps[CapEmbeddings]; ok {
		d.provider["embed"] = cc.label
		d.embed = func(ctx context.Context, texts []string) ([][]float32, int, error) {
			return cc.client.Embed(ctx, cc.model, texts)
		}
	}
}

func clauseInputs(segs []Segment, cls []Classification) []ai.ClauseInput {
	out := make([]ai.ClauseInput, len(segs))
	for i, s := range segs {
		out[i] = ai.ClauseInput{Heading: s.Heading, Text: s.Text}
		if cls != nil {
			out[i].Category = cls[i].Category
		}
	}
	return out
}

// playbookText renders a playbook as the positions a model should apply.
func playbookText(pb *analysis.Playbook) string {
	var lines []string
	for _, r := range pb.Rules() {
		line := "- " + r.Category
		if r.Pattern != "" {
			line += fmt.Sprintf(" (text matching /%s/)", r.Pattern)
		}
		lines = append(lines, fmt.Sprintf("%s: %s risk. %s", line, r.Risk, r.Explanation))
	}
	return strings.Join(lines, "\n")
}
