package ai

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// ClauseInput is one clause sent to a model.
type ClauseInput struct {
	Heading  string
	Text     string
	Category string // for risk assessment: the clause's category
}

// Classification is a model's category for one clause.
type Classification struct {
	Category   string
	Confidence float64
}

// Assessment is a model's risk rating of one clause.
type Assessment struct {
	Risk        string
	Explanation string
}

// batchSize is how many clauses go in one request.
const batchSize = 25

// maxClauseChars bounds the text of one clause in a prompt.
const maxClauseChars = 3000

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + " …"
}

// parseJSONObject decodes a model answer into out. Models sometimes wrap
// JSON in a Markdown code fence or add a sentence; the outermost object is
// taken. Unknown fields are refused so a wrong shape is noticed.
func parseJSONObject(text string, out any) error {
	s := strings.TrimSpace(text)
	i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	if i < 0 || j < i {
		return fmt.Errorf("%w: no JSON object in the answer", ErrMalformed)
	}
	dec := json.NewDecoder(strings.NewReader(s[i : j+1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

func numbered(clauses []ClauseInput, withCategory bool) string {
	var b strings.Builder
	for i, c := range clauses {
		fmt.Fprintf(&b, "### Clause %d\n", i)
		if c.Heading != "" {
			fmt.Fprintf(&b, "Heading: %s\n", c.Heading)
		}
		if withCategory {
			fmt.Fprintf(&b, "Category: %s\n", c.Category)
		}
		b.WriteString(clip(c.Text, maxClauseChars))
		b.WriteString("\n\n")
	}
	return b.String()
}

// ClassifyClauses asks the model for the CUAD category of each clause. The
// answer must name every clause exactly once with a category from
// categories (or "Other") and a confidence in [0,1]; anything else is
// ErrMalformed and the caller falls back to the offline classifier.
func ClassifyClauses(ctx context.Context, c *Client, model string, categories []string, clauses []ClauseInput) ([]Classification, int, error) {
	allowed := map[string]string{"other": "Other"}
	for _, cat := range categories {
		allowed[strings.ToLower(cat)] = cat
	}
	system := "You are a contract analyst. Classify each clause of a contract into exactly one category of the CUAD taxonomy, " +
		"or \"Other\" when none fits. Categories: " + strings.Join(categories, "; ") + ".\n" +
		`Answer with JSON only: {"clauses":[{"index":0,"category":"<category>","confidence":0.0}]} ` +
		"with one entry per clause, index as given, confidence between 0 and 1."
	out := make([]Classification, len(clauses))
	tokens, err := askPerClause(ctx, c, model, system, clauses, false, func(i int, a classAnswer) error {
		cat, ok := allowed[strings.ToLower(strings.TrimSpace(a.Category))]
		if !ok {
			return fmt.Errorf("%w: unknown category %q", ErrMalformed, clip(a.Category, 60))
		}
		conf := 0.5
		if a.Confidence != nil {
			conf = *a.Confidence
		}
		if conf < 0 || conf > 1 {
			return fmt.Errorf("%w: confidence %v out of range", ErrMalformed, conf)
		}
		out[i] = Classification{Category: cat, Confidence: conf}
		return nil
	})
	if err != nil {
		return nil, tokens, err
	}
	return out, tokens, nil
}

type classAnswer struct {
	Index      *int     `json:"index"`
	Category   string   `json:"category"`
	Confidence *float64 `json:"confidence"`
}

type riskAnswer struct {
	Index       *int   `json:"index"`
	Risk        string `json:"risk"`
	Explanation string `json:"explanation"`
}

func (a classAnswer) index() *int { return a.Index }
func (a riskAnswer) index() *int  { return a.Index }

// askPerClause sends the clauses in batches of batchSize with the system
// prompt and expects {"clauses":[...]} with one entry per clause of the
// batch, each naming its index; accept validates and stores an entry (i is
// the clause's index in clauses). A bad, repeated or missing index, or an
// entry accept refuses, is ErrMalformed. It returns the tokens used.
func askPerClause[E interface{ index() *int }](ctx context.Context, c *Client, model, system string, clauses []ClauseInput,
	withCategory bool, accept func(i int, e E) error) (int, error) {
	tokens := 0
	for start := 0; start < len(clauses); start += batchSize {
		batch := clauses[start:min(start+batchSize, len(clauses))]
		res, err := c.Chat(ctx, model, system, []Message{{Role: "user", Content: numbered(batch, withCategory)}})
		if res != nil {
			tokens += res.Tokens
		}
		if err != nil {
			return tokens, err
		}
		var ans struct {
			Clauses []E `json:"clauses"`
		}
		if err := parseJSONObject(res.Text, &ans); err != nil {
			return tokens, err
		}
		seen := make([]bool, len(batch))
		for _, a := range ans.Clauses {
			i := a.index()
			if i == nil || *i < 0 || *i >= len(batch) || seen[*i] {
				return tokens, fmt.Errorf("%w: bad or repeated clause index", ErrMalformed)
			}
			if err := accept(start+*i, a); err != nil {
				return tokens, err
			}
			seen[*i] = true
		}
		for i, s := range seen {
			if !s {
				return tokens, fmt.Errorf("%w: clause %d missing from the answer", ErrMalformed, i)
			}
		}
	}
	return tokens, nil
}

// AssessRisks asks the model for a risk level (low, medium, high) and a
// one-sentence explanation per clause, given the playbook's positions.
func AssessRisks(ctx context.Context, c *Client, model, playbook string, clauses []ClauseInput) ([]Assessment, int, error) {
	system := "You are a contract lawyer reviewing clauses for the client. Rate the risk of each clause as low, medium or high " +
		"and explain the rating in one sentence. Follow the client's playbook of default positions:\n" + playbook + "\n" +
		`Answer with JSON only: {"clauses":[{"index":0,"risk":"low|medium|high","explanation":"<one sentence>"}]} with one entry per clause.`
	out := make([]Assessment, len(clauses))
	tokens, err := askPerClause(ctx, c, model, system, clauses, true, func(i int, a riskAnswer) error {
		risk := strings.ToLower(strings.TrimSpace(a.Risk))
		if risk != "low" && risk != "medium" && risk != "high" {
			return fmt.Errorf("%w: risk %q", ErrMalformed, clip(a.Risk, 30))
		}
		expl := strings.TrimSpace(a.Explanation)
		if expl == "" || len(expl) > 1000 {
			return fmt.Errorf("%w: explanation missing or too long", ErrMalformed)
		}
		out[i] = Assessment{Risk: risk, Explanation: expl}
		return nil
	})
	if err != nil {
		return nil, tokens, err
	}
	return out, tokens, nil
}

// FactKeys are the document facts a model is asked for.
var FactKeys = []string{"document_name", "document_type", "parties", "agreement_date", "effective_date",
	"expiration_date", "renewal_term", "notice_period", "governing_law"}

// maxFactsChars is how much of the document goes into the facts prompt
// (the facts are almost always on the first pages and the last one).
const maxFactsChars = 24000

// ExtractFacts asks the model for document-level facts. Values are strings
// (parties: a list of strings) or null; null and empty values are dropped.
func ExtractFacts(ctx context.Context, c *Client, model, text string) (map[string]any, int, error) {
	if len(text) > maxFactsChars {
		head := clip(text, maxFactsChars*3/4)
		tail := text[len(text)-maxFactsChars/4:]
		text = head + "\n[...]\n" + tail
	}
	system := "You extract facts from contracts. Answer with JSON only, exactly these keys: " +
		`{"document_name":string|null,"document_type":string|null,"parties":[string],"agreement_date":string|null,` +
		`"effective_date":string|null,"expiration_date":string|null,"renewal_term":string|null,"notice_period":string|null,"governing_law":string|null}. ` +
		"Use the contract's own words; null when the contract does not say."
	res, err := c.Chat(ctx, model, system, []Message{{Role: "user", Content: text}})
	tokens := 0
	if res != nil {
		tokens = res.Tokens
	}
	if err != nil {
		return nil, tokens, err
	}
	var raw map[string]json.RawMessage
	if err := parseJSONObject(res.Text, &raw); err != nil {
		return nil, tokens, err
	}
	known := map[string]bool{}
	for _, k := range FactKeys {
		known[k] = true
	}
	facts := map[string]any{}
	for k, v := range raw {
		if !known[k] {
			return nil, tokens, fmt.Errorf("%w: unexpected key %q", ErrMalformed, clip(k, 40))
		}
		if string(v) == "null" {
			continue
		}
		if k == "parties" {
			var ps []string
			if err := json.Unmarshal(v, &ps); err != nil {
				return nil, tokens, fmt.Errorf("%w: parties is not a list of strings", ErrMalformed)
			}
			var keep []string
			for _, p := range ps {
				if p = strings.TrimSpace(p); p != "" {
					keep = append(keep, clip(p, 300))
				}
			}
			if len(keep) > 0 {
				facts[k] = keep
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, tokens, fmt.Errorf("%w: %s is not a string", ErrMalformed, k)
		}
		if s = strings.TrimSpace(s); s != "" {
			facts[k] = clip(s, 500)
		}
	}
	return facts, tokens, nil
}

// SummaryInput is what a report summary is written from.
type SummaryInput struct {
	DocumentName string
	Facts        map[string]any
	Clauses      []ClauseInput // Category set; Heading carries nothing
	Risks        []string      // risk level per clause
}

// Summarize asks the model for a short executive summary of a reviewed
// contract (plain prose, at most about 150 words) for the report.
func Summarize(ctx context.Context, c *Client, model string, in SummaryInput) (string, int, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Document: %s\n", in.DocumentName)
	if f, err := json.Marshal(in.Facts); err == nil {
		fmt.Fprintf(&b, "Facts: %s\n", f)
	}
	b.WriteString("Clauses rated medium or high risk:\n")
	n := 0
	for i, cl := range in.Clauses {
		if i >= len(in.Risks) || in.Risks[i] == "low" || n >= 40 {
			continue
		}
		n++
		fmt.Fprintf(&b, "- [%s] %s: %s\n", in.Risks[i], cl.Category, clip(cl.Text, 600))
	}
	if n == 0 {
		b.WriteString("(none)\n")
	}
	system := "You write executive summaries of contract reviews for lawyers. In at most 150 words, say what the contract is, " +
		"who the parties are, and which clauses need attention and why. " + `Answer with JSON only: {"summary":"<text>"}.`
	res, err := c.Chat(ctx, model, system, []Message{{Role: "user", Content: b.String()}})
	tokens := 0
	if res != nil {
		tokens = res.Tokens
	}
	if err != nil {
		return "", tokens, err
	}
	var ans struct {
		Summary string `json:"summary"`
	}
	if err := parseJSONObject(res.Text, &ans); err != nil {
		return "", tokens, err
	}
	s := strings.TrimSpace(ans.Summary)
	if s == "" || len(s) > 3000 {
		return "", tokens, fmt.Errorf("%w: summary empty or too long", ErrMalformed)
	}
	return s, tokens, nil
}
