package worker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

const providerKey = "sk-live-NEVER-LOG-ME-987654321"

// fakeOpenAI is a local server speaking the OpenAI chat completions and
// embeddings wire format; mode decides what the model answers.
type fakeOpenAI struct {
	mode     string // "good", "malformed", "ratelimited"
	requests atomic.Int32
	sawKey   atomic.Bool
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	f.sawKey.Store(r.Header.Get("Authorization") == "Bearer "+providerKey)
	var body struct {
		Messages []struct{ Role, Content string }
		Input    []string
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	if f.mode == "ratelimited" && n%2 == 1 {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"slow down"}}`)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/embeddings") {
		var data []map[string]any
		for i := range body.Input {
			v := make([]float64, 384)
			v[i%384] = 1
			data = append(data, map[string]any{"index": i, "embedding": v})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data, "usage": map[string]int{"total_tokens": 10}})
		return
	}
	user := body.Messages[len(body.Messages)-1].Content
	system := body.Messages[0].Content
	var content string
	switch {
	case f.mode == "malformed":
		content = "Sure! Here are the categories you asked for: governing law, probably."
	case strings.Contains(system, "Classify each clause"):
		k := strings.Count(user, "### Clause ")
		var items []string
		for i := range k {
			items = append(items, fmt.Sprintf(`{"index":%d,"category":"Governing Law","confidence":0.9}`, i))
		}
		content = `{"clauses":[` + strings.Join(items, ",") + `]}`
	case strings.Contains(system, "Rate the risk"):
		k := strings.Count(user, "### Clause ")
		var items []string
		for i := range k {
			items = append(items, fmt.Sprintf(`{"index":%d,"risk":"medium","explanation":"Reviewed by the model."}`, i))
		}
		content = `{"clauses":[` + strings.Join(items, ",") + `]}`
	case strings.Contains(system, "executive summaries"):
		content = `{"summary":"The model's summary: an endorsement deal with one risky clause."}`
	default: // facts
		content = `{"document_name":"ENDORSEMENT AGREEMENT","parties":["Tom Watson","Adams Golf, Ltd."],"governing_law":"Texas"}`
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": content}}},
		"usage":   map[string]int{"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50},
	})
}

// configureProvider stores an OpenAI-compatible provider (key sealed with
// the worker's ENCRYPTION_KEY) and maps every capability to it.
func configureProvider(t *testing.T, e *env, url string) {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.cfg.EncryptionKey = key
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.SealString(providerKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	if err := e.pool.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, model, embedding_model, api_key_encrypted)
		VALUES ('local', 'openai', $1, 'gpt-test', 'embed-test', $2) RETURNING id`, url+"/v1", sealed).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"extraction_classification", "document_understanding", "reasoning", "embeddings", "generation"} {
		if _, err := e.pool.Exec(ctx, `INSERT INTO ai_capability_mappings (capability, provider_id) VALUES ($1, $2)
			ON CONFLICT (capability) DO UPDATE SET provider_id = $2`, c, id); err != nil {
			t.Fatal(err)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runWithLogs(t *testing.T, e *env) *lockedBuffer {
	t.Helper()
	logs := &lockedBuffer{}
	w, err := worker.New(e.cfg, worker.Deps{Pool: e.pool, Redis: e.rdb, Queue: e.queue,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Options: worker.Options{PollBlock: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	e.run(w)
	return logs
}

// analyseWithProvider runs a worker configured with the fake provider in
// mode and analyses one CUAD contract to completion.
func analyseWithProvider(t *testing.T, mode string) (*env, *fakeOpenAI, *lockedBuffer, string, docRow) {
	t.Helper()
	t.Parallel()
	e := newEnv(t, time.Minute)
	fake := &fakeOpenAI{mode: mode}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	configureProvider(t, e, srv.URL)
	logs := runWithLogs(t, e)
	id := e.upload("adams.pdf", "pdf", readCUAD(t, adamsGolf))
	r := e.waitFinished(id, 2*time.Minute)
	if r.Status != worker.StatusComplete {
		t.Fatalf("%s %s", r.Status, r.Error)
	}
	return e, fake, logs, id, r
}

func TestConfiguredProviderAnalysesAndCountsTokens(t *testing.T) {
	e, fake, logs, id, r := analyseWithProvider(t, "ratelimited")
	if !fake.sawKey.Load() {
		t.Error("provider never received the decrypted key")
	}
	if !strings.Contains(r.Analyzer, "openai:gpt-test") || !strings.Contains(r.Analyzer, "openai:embed-test") {
		t.Errorf("analyzer %q", r.Analyzer)
	}
	if r.Tokens < 150 {
		t.Errorf("tokens_used %d", r.Tokens)
	}
	if r.Facts["governing_law"] != "Texas" {
		t.Errorf("facts %v", r.Facts)
	}
	cats := e.clauseCategories(id)
	if cats["Governing Law"] != r.Clauses {
		t.Errorf("categories %v, want all from the model", cats)
	}
	var risks int
	_ = e.pool.QueryRow(context.Background(), `SELECT count(*) FROM clauses WHERE document_id = $1 AND risk_level = 'medium'
		AND explanation = 'Reviewed by the model.' AND (SELECT max(x) FROM unnest(embedding) x) = 1`, id).Scan(&risks)
	if risks != r.Clauses {
		t.Errorf("%d of %d clauses carry the model's risk and embedding", risks, r.Clauses)
	}
	rows, _ := e.pool.Query(context.Background(), `SELECT DISTINCT embedding_model FROM clauses WHERE document_id = $1`, id)
	embedders, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(embedders) != 1 || !strings.Contains(embedders[0], "embed-test") {
		t.Errorf("clauses record embedders %q, want the provider's embedding model", embedders)
	}
	// A report's summary comes from the generation capability.
	var reportID string
	if err := e.pool.QueryRow(context.Background(), `INSERT INTO document_reports (document_id) VALUES ($1) RETURNING id`, id).Scan(&reportID); err != nil {
		t.Fatal(err)
	}
	e.enqueue("report", reportID)
	html := waitReportHTML(t, e, reportID)
	if !strings.Contains(html, "The model&#39;s summary: an endorsement deal") || !strings.Contains(html, "Summary by openai:gpt-test") {
		t.Error("report summary not from the generation provider")
	}
	if after := e.doc(id); after.Tokens <= r.Tokens {
		t.Errorf("report tokens not recorded: %d then %d", r.Tokens, after.Tokens)
	}
	if strings.Contains(logs.String(), providerKey) {
		t.Error("the API key appears in the logs")
	}
}

func TestMalformedModelOutputFallsBackToOffline(t *testing.T) {
	e, _, logs, id, r := analyseWithProvider(t, "malformed")
	// Chat steps fell back; embeddings (well-formed) still came from the provider.
	if strings.Contains(r.Analyzer, "gpt-test") || !strings.HasPrefix(r.Analyzer, "offline") {
		t.Errorf("analyzer %q", r.Analyzer)
	}
	if r.Tokens == 0 {
		t.Error("tokens of the malformed calls not recorded")
	}
	if e.clauseCategories(id)["Governing Law"] == r.Clauses {
		t.Error("malformed output reached the stored categories")
	}
	out := logs.String()
	if !strings.Contains(out, "offline analyzer used") || strings.Contains(out, providerKey) {
		t.Errorf("logs: fallback logged=%v key leaked=%v", strings.Contains(out, "offline analyzer used"), strings.Contains(out, providerKey))
	}
}
