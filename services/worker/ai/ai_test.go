package ai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
	"github.com/contract-lucidity/contract-lucidity/services/worker/ai"
)

const testKey = "sk-test-DO-NOT-LEAK-0123456789"

// loopback lets the tests' local fake providers be reached; the default
// client refuses loopback addresses.
var loopback = egress.NewClient(egress.Policy{AllowPrivate: true}, 30*time.Second)

var categories = []string{"Governing Law", "Cap on Liability", "Termination for Convenience"}

var clauses = []ai.ClauseInput{
	{Heading: "12. Governing Law", Text: "This Agreement is governed by the laws of the State of New York."},
	{Heading: "13. Limitation", Text: "In no event shall either party's liability exceed the fees paid in the prior twelve months."},
}

// openAIServer speaks the chat completions and embeddings wire format.
// answer returns the assistant content for a request body.
func openAIServer(t *testing.T, answer func(body map[string]any) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		switch r.URL.Path {
		case "/v1/chat/completions":
			if rf, _ := body["response_format"].(map[string]any); rf["type"] != "json_object" {
				t.Errorf("response_format %v", body["response_format"])
			}
			msgs, _ := body["messages"].([]any)
			if len(msgs) < 2 || msgs[0].(map[string]any)["role"] != "system" {
				t.Errorf("messages %v", msgs)
			}
			resp := map[string]any{
				"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
					"message": map[string]any{"role": "assistant", "content": answer(body)}}},
				"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
			}
			_ = json.NewEncoder(w).Encode(resp)
		case "/v1/embeddings":
			if body["dimensions"] != float64(384) {
				t.Errorf("dimensions %v", body["dimensions"])
			}
			inputs, _ := body["input"].([]any)
			var data []any
			for i := len(inputs) - 1; i >= 0; i-- { // out of order on purpose: index decides
				v := make([]float64, 384)
				v[i%384] = 3
				v[(i+1)%384] = 4
				data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "usage": map[string]any{"prompt_tokens": 7, "total_tokens": 7}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openAIClient(url string) *ai.Client {
	return ai.NewClient(ai.Provider{Name: "local", Kind: ai.KindOpenAI, BaseURL: url + "/v1", Model: "gpt-test",
		EmbeddingModel: "embed-test", APIKey: ai.Secret(testKey)}, ai.Options{HTTPClient: loopback, BaseBackoff: 10 * time.Millisecond})
}

func TestOpenAIClassificationAndTokens(t *testing.T) {
	srv := openAIServer(t, func(body map[string]any) string {
		return "```json\n" + `{"clauses":[{"index":1,"category":"cap on liability","confidence":0.8},{"index":0,"category":"Governing Law","confidence":0.95}]}` + "\n```"
	})
	got, tokens, err := ai.ClassifyClauses(context.Background(), openAIClient(srv.URL), "", categories, clauses)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Category != "Governing Law" || got[1].Category != "Cap on Liability" || got[1].Confidence != 0.8 {
		t.Errorf("classifications %+v", got)
	}
	if tokens != 120 {
		t.Errorf("tokens %d", tokens)
	}
}

func TestMalformedModelOutputIsRefused(t *testing.T) {
	answers := map[string]string{
		"not json":          "I think the first clause is about governing law.",
		"unknown category":  `{"clauses":[{"index":0,"category":"Weather","confidence":0.5},{"index":1,"category":"Other","confidence":0.5}]}`,
		"missing clause":    `{"clauses":[{"index":0,"category":"Governing Law","confidence":0.5}]}`,
		"repeated index":    `{"clauses":[{"index":0,"category":"Other"},{"index":0,"category":"Other"}]}`,
		"confidence > 1":    `{"clauses":[{"index":0,"category":"Other","confidence":7},{"index":1,"category":"Other","confidence":0.1}]}`,
		"unexpected fields": `{"clauses":[{"index":0,"category":"Other","mood":"happy"},{"index":1,"category":"Other"}]}`,
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			srv := openAIServer(t, func(map[string]any) string { return answer })
			_, tokens, err := ai.ClassifyClauses(context.Background(), openAIClient(srv.URL), "", categories, clauses)
			if !errors.Is(err, ai.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if tokens != 120 {
				t.Errorf("tokens of the failed call not counted: %d", tokens)
			}
		})
	}
}

func TestOpenAIEmbeddingsAre384DimensionalAndNormalised(t *testing.T) {
	srv := openAIServer(t, nil)
	vecs, tokens, err := openAIClient(srv.URL).Embed(context.Background(), "", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 3 || tokens != 7 {
		t.Fatalf("%d vectors, %d tokens", len(vecs), tokens)
	}
	for i, v := range vecs {
		var sum float64
		for _, x := range v {
			sum += float64(x) * float64(x)
		}
		if len(v) != 384 || math.Abs(sum-1) > 1e-5 || v[i] != 0.6 {
			t.Errorf("vector %d: len %d norm² %f v[i]=%f", i, len(v), sum, v[i])
		}
	}
}

func TestAnthropicMessagesWireFormat(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Header.Get("x-api-key") != testKey ||
			r.Header.Get("anthropic-version") != ai.AnthropicVersion || r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"type":"error","error":{"type":"invalid_request_error","message":"bad request shape"}}`)
			return
		}
		var body struct {
			Model     string `json:"model"`
			MaxTokens int    `json:"max_tokens"`
			System    string `json:"system"`
			Messages  []struct{ Role, Content string }
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.MaxTokens == 0 || body.System == "" || len(body.Messages) != 1 || body.Messages[0].Role != "user" {
			t.Errorf("body %+v", body)
		}
		fmt.Fprint(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","stop_reason":"end_turn",
			"content":[{"type":"text","text":"{\"clauses\":[{\"index\":0,\"risk\":\"low\",\"explanation\":\"Standard New York law.\"},"},
			           {"type":"text","text":"{\"index\":1,\"risk\":\"medium\",\"explanation\":\"Cap is low.\"}]}"}],
			"usage":{"input_tokens":300,"output_tokens":45}}`)
	}))
	defer srv.Close()
	c := ai.NewClient(ai.Provider{Kind: ai.KindAnthropic, BaseURL: srv.URL, Model: "claude-test", APIKey: ai.Secret(testKey)}, ai.Options{HTTPClient: loopback})
	got, tokens, err := ai.AssessRisks(context.Background(), c, "", "- Uncapped Liability: high risk.", clauses)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Risk != "low" || got[1].Risk != "medium" || got[1].Explanation != "Cap is low." || tokens != 345 {
		t.Errorf("%+v tokens %d", got, tokens)
	}
	if _, _, err := c.Embed(context.Background(), "", []string{"x"}); !errors.Is(err, ai.ErrUnsupported) {
		t.Errorf("anthropic embeddings: %v", err)
	}
}

func TestRateLimitIsRetriedHonouringRetryAfter(t *testing.T) {
	var hits atomic.Int32
	var first time.Time
	var gap atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if n == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached"}}`)
			return
		}
		gap.Store(int64(time.Since(first)))
		fmt.Fprint(w, `{"choices":[{"message":{"content":"{}"}}],"usage":{"total_tokens":3}}`)
	}))
	defer srv.Close()
	c := ai.NewClient(ai.Provider{Kind: ai.KindOpenAI, BaseURL: srv.URL, Model: "m", APIKey: ai.Secret(testKey)},
		ai.Options{HTTPClient: loopback, BaseBackoff: time.Millisecond})
	res, err := c.Chat(context.Background(), "", "sys", []ai.Message{{Role: "user", Content: "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 || res.Tokens != 3 {
		t.Errorf("hits %d tokens %d", hits.Load(), res.Tokens)
	}
	// Retry-After: 1 was honoured over the 1 ms backoff.
	if d := time.Duration(gap.Load()); d < 900*time.Millisecond {
		t.Errorf("retried after %s, before Retry-After", d)
	}
}

func TestServerErrorStormGivesUpAfterRetries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"message":"overloaded"}}`)
	}))
	defer srv.Close()
	c := ai.NewClient(ai.Provider{Kind: ai.KindOpenAI, BaseURL: srv.URL, Model: "m", APIKey: ai.Secret(testKey)},
		ai.Options{HTTPClient: loopback, MaxRetries: 3, BaseBackoff: time.Millisecond})
	_, err := c.Chat(context.Background(), "", "sys", []ai.Message{{Role: "user", Content: "hi"}})
	var apiErr *ai.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || !apiErr.Retryable {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", hits.Load())
	}
}

func TestClientErrorsAreNotRetriedAndKeyIsNeverEchoed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		_ = b
		w.WriteHeader(http.StatusUnauthorized)
		// Some providers echo the key they were given.
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s"}}`, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	c := ai.NewClient(ai.Provider{Kind: ai.KindOpenAI, BaseURL: srv.URL, Model: "m", APIKey: ai.Secret(testKey)},
		ai.Options{HTTPClient: loopback, BaseBackoff: time.Millisecond})
	_, err := c.Chat(context.Background(), "", "sys", []ai.Message{{Role: "user", Content: "hi"}})
	if err == nil || hits.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
	if strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error text: %v", err)
	}
	p := c.Provider()
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprint(p.APIKey)} {
		if strings.Contains(s, testKey) {
			t.Errorf("key visible when formatting: %s", s)
		}
	}
	if b, _ := json.Marshal(p); strings.Contains(string(b), testKey) {
		t.Errorf("key visible in JSON: %s", b)
	}
}

func TestFactsAreValidated(t *testing.T) {
	srv := openAIServer(t, func(map[string]any) string {
		return `{"document_name":"ENDORSEMENT AGREEMENT","document_type":"Endorsement Agreement","parties":["Tom Watson"," Adams Golf, Ltd. ",""],
			"agreement_date":"January 13, 2005","effective_date":null,"expiration_date":null,"renewal_term":null,"notice_period":null,"governing_law":"Texas"}`
	})
	facts, _, err := ai.ExtractFacts(context.Background(), openAIClient(srv.URL), "", "ENDORSEMENT AGREEMENT ...")
	if err != nil {
		t.Fatal(err)
	}
	if facts["governing_law"] != "Texas" || len(facts["parties"].([]string)) != 2 || facts["effective_date"] != nil {
		t.Errorf("facts %v", facts)
	}
	bad := openAIServer(t, func(map[string]any) string { return `{"parties":"Tom Watson"}` })
	if _, _, err := ai.ExtractFacts(context.Background(), openAIClient(bad.URL), "", "x"); !errors.Is(err, ai.ErrMalformed) {
		t.Errorf("parties as a string: %v", err)
	}
}

// A provider base URL pointing inside the network (here loopback, as an
// attacker would use for 127.0.0.1:6379 or a metadata service) is refused
// by the default client when it connects, without retries; redirects are
// not followed even where the first address is allowed.
func TestDefaultClientRefusesInternalAddressesAndRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"choices":[{"message":{"content":"{}"}}]}`)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, base := range []string{srv.URL, "http://localhost" + port} {
		c := ai.NewClient(ai.Provider{Kind: ai.KindOpenAI, BaseURL: base, Model: "m", APIKey: ai.Secret(testKey)},
			ai.Options{BaseBackoff: time.Millisecond})
		_, err := c.Chat(context.Background(), "", "sys", []ai.Message{{Role: "user", Content: "hi"}})
		if !errors.Is(err, ai.ErrAddressRefused) {
			t.Fatalf("%s: %v", base, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server received %d requests", hits.Load())
	}
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/v1/chat/completions", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c := ai.NewClient(ai.Provider{Kind: ai.KindOpenAI, BaseURL: redirect.URL, Model: "m", APIKey: ai.Secret(testKey)},
		ai.Options{HTTPClient: loopback, BaseBackoff: time.Millisecond})
	_, err := c.Chat(context.Background(), "", "sys", []ai.Message{{Role: "user", Content: "hi"}})
	var apiErr *ai.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect || apiErr.Retryable || hits.Load() != 0 {
		t.Fatalf("redirect: %v, target hit %d times", err, hits.Load())
	}
}
