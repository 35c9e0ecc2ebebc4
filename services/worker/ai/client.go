// Package ai talks to the AI providers an administrator configured: any
// OpenAI-compatible API (OpenAI, Azure OpenAI, vLLM, Ollama: chat
// completions and embeddings) and the Anthropic Messages API. It retries
// 429 and 5xx answers with backoff (honouring Retry-After), validates the
// JSON the models return against the schema each task asks for, and never
// lets the API key reach a log line or an error message.
package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
)

// Provider kinds (ai_providers.kind).
const (
	KindOpenAI    = "openai"
	KindAnthropic = "anthropic"
)

// AnthropicVersion is the anthropic-version header sent with every request.
const AnthropicVersion = "2023-06-01"

// EmbeddingDimensions is the vector size used everywhere.
const EmbeddingDimensions = 384

// Secret holds an API key in memory. It formats and logs as "[redacted]".
type Secret string

func (Secret) String() string                  { return "[redacted]" }
func (Secret) GoString() string                { return "[redacted]" }
func (Secret) LogValue() slog.Value            { return slog.StringValue("[redacted]") }
func (Secret) MarshalJSON() ([]byte, error)    { return []byte(`"[redacted]"`), nil }
func (s Secret) reveal() string                { return string(s) }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, "[redacted]") }

// Provider is one configured provider, with its key decrypted.
type Provider struct {
	Name           string
	Kind           string // KindOpenAI or KindAnthropic
	BaseURL        string
	Model          string // chat model
	EmbeddingModel string
	APIKey         Secret
}

// Label names the provider and model for documents.analyzer.
func (p Provider) Label(model string) string { return p.Kind + ":" + model }

// Options tune a Client; zero values take defaults.
type Options struct {
	HTTPClient  *http.Client  // default: egress.NewClient(egress.Policy{}, 90 s): public addresses only, no redirects
	MaxRetries  int           // retries after the first try on 429/5xx/network errors; default 4
	BaseBackoff time.Duration // default 500ms, doubled per retry with jitter
	MaxBackoff  time.Duration // default 30s; also caps Retry-After
	MaxTokens   int           // completion limit for chat; default 4096
}

// Client calls one provider.
type Client struct {
	p    Provider
	opts Options
}

// NewClient returns a client for p.
func NewClient(p Provider, opts Options) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = egress.NewClient(egress.Policy{}, 90*time.Second)
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 4
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = 4096
	}
	return &Client{p: p, opts: opts}
}

// Provider returns the client's provider.
func (c *Client) Provider() Provider { return c.p }

// APIError is a provider's refusal. Retryable errors were retried already.
type APIError struct {
	Status    int
	Retryable bool
	Message   string // the provider's error message, redacted
}

func (e *APIError) Error() string {
	return fmt.Sprintf("provider answered HTTP %d: %s", e.Status, e.Message)
}

// ErrUnsupported is returned for an operation the provider kind lacks
// (Anthropic has no embeddings API).
var ErrUnsupported = errors.New("operation not supported by this provider kind")

// ErrAddressRefused is a provider address the egress policy forbids
// (link-local, metadata, or private without AI_ALLOW_PRIVATE_ENDPOINTS).
var ErrAddressRefused = errors.New("provider address not allowed")

// ErrMalformed wraps model output that does not match the requested schema.
var ErrMalformed = errors.New("malformed model output")

// Message is a chat turn.
type Message struct {
	Role    string // "user" or "assistant"
	Content string
}

// ChatResult is a completion and the tokens it cost.
type ChatResult struct {
	Text   string
	Tokens int
}

// Chat sends a system prompt and messages, asking for a JSON answer.
func (c *Client) Chat(ctx context.Context, model, system string, msgs []Message) (*ChatResult, error) {
	if model == "" {
		model = c.p.Model
	}
	switch c.p.Kind {
	case KindOpenAI:
		return c.chatOpenAI(ctx, model, system, msgs)
	case KindAnthropic:
		return c.chatAnthropic(ctx, model, system, msgs)
	}
	return nil, fmt.Errorf("unknown provider kind %q", c.p.Kind)
}

func (c *Client) chatOpenAI(ctx context.Context, model, system string, msgs []Message) (*ChatResult, error) {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	body := struct {
		Model          string            `json:"model"`
		Messages       []msg             `json:"messages"`
		Temperature    float64           `json:"temperature"`
		MaxTokens      int               `json:"max_tokens,omitempty"`
		ResponseFormat map[string]string `json:"response_format"`
	}{Model: model, Temperature: 0, MaxTokens: c.opts.MaxTokens, ResponseFormat: map[string]string{"type": "json_object"}}
	body.Messages = append(body.Messages, msg{Role: "system", Content: system})
	for _, m := range msgs {
		body.Messages = append(body.Messages, msg{Role: m.Role, Content: m.Content})
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := c.do(ctx, joinURL(c.p.BaseURL, "/chat/completions"), body, &out); err != nil {
		return nil, err
	}
	tokens := out.Usage.TotalTokens
	if tokens == 0 {
		tokens = out.Usage.PromptTokens + out.Usage.CompletionTokens
	}
	if len(out.Choices) == 0 {
		return &ChatResult{Tokens: tokens}, fmt.Errorf("%w: no choices in the response", ErrMalformed)
	}
	return &ChatResult{Text: out.Choices[0].Message.Content, Tokens: tokens}, nil
}

func (c *Client) chatAnthropic(ctx context.Context, model, system string, msgs []Message) (*ChatResult, error) {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	body := struct {
		Model       string  `json:"model"`
		MaxTokens   int     `json:"max_tokens"`
		System      string  `json:"system,omitempty"`
		Messages    []msg   `json:"messages"`
		Temperature float64 `json:"temperature"`
	}{Model: model, MaxTokens: c.opts.MaxTokens, System: system}
	for _, m := range msgs {
		body.Messages = append(body.Messages, msg{Role: m.Role, Content: m.Content})
	}
	var out struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		StopReason string `json:"stop_reason"`
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	url := joinURL(c.p.BaseURL, "/v1/messages")
	if strings.HasSuffix(strings.TrimRight(c.p.BaseURL, "/"), "/v1") {
		url = joinURL(c.p.BaseURL, "/messages")
	}
	if err := c.do(ctx, url, body, &out); err != nil {
		return nil, err
	}
	var text strings.Builder
	for _, b := range out.Content {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	return &ChatResult{Text: text.String(), Tokens: out.Usage.InputTokens + out.Usage.OutputTokens}, nil
}

// Embed returns one L2-normalised 384-dimensional vector per text.
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, int, error) {
	if c.p.Kind != KindOpenAI {
		return nil, 0, ErrUnsupported
	}
	if model == "" {
		model = c.p.EmbeddingModel
	}
	if model == "" {
		model = c.p.Model
	}
	out := make([][]float32, len(texts))
	tokens := 0
	const batch = 64
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		body := map[string]any{"model": model, "input": texts[start:end], "dimensions": EmbeddingDimensions, "encoding_format": "float"}
		var resp struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float64 `json:"embedding"`
			} `json:"data"`
			Usage struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := c.do(ctx, joinURL(c.p.BaseURL, "/embeddings"), body, &resp); err != nil {
			return nil, tokens, err
		}
		tokens += resp.Usage.TotalTokens
		if len(resp.Data) != end-start {
			return nil, tokens, fmt.Errorf("%w: %d embeddings for %d inputs", ErrMalformed, len(resp.Data), end-start)
		}
		for _, d := range resp.Data {
			if d.Index < 0 || d.Index >= end-start || out[start+d.Index] != nil {
				return nil, tokens, fmt.Errorf("%w: bad embedding index %d", ErrMalformed, d.Index)
			}
			v, err := normalise(d.Embedding)
			if err != nil {
				return nil, tokens, err
			}
			out[start+d.Index] = v
		}
	}
	return out, tokens, nil
}

func normalise(v []float64) ([]float32, error) {
	if len(v) != EmbeddingDimensions {
		return nil, fmt.Errorf("%w: embedding has %d dimensions, want %d", ErrMalformed, len(v), EmbeddingDimensions)
	}
	var sum float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: embedding has a non-finite value", ErrMalformed)
		}
		sum += x * x
	}
	if sum == 0 {
		return nil, fmt.Errorf("%w: zero embedding", ErrMalformed)
	}
	n := math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x / n)
	}
	return out, nil
}

func joinURL(base, path string) string { return strings.TrimRight(base, "/") + path }

// do POSTs body as JSON and decodes the answer into out, retrying 429, 5xx
// and network errors with exponential backoff and jitter, honouring
// Retry-After.
func (c *Client) do(ctx context.Context, url string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var last error
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, url, payload, out)
		if err == nil {
			return nil
		}
		last = err
		var apiErr *APIError
		retryable := errors.As(err, &apiErr) && apiErr.Retryable || isNetworkError(err)
		if !retryable || attempt >= c.opts.MaxRetries || ctx.Err() != nil {
			break
		}
		if wait <= 0 {
			backoff := c.opts.BaseBackoff << attempt
			wait = backoff/2 + rand.N(backoff/2+1)
		}
		wait = min(wait, c.opts.MaxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return last
}

type netError struct{ err error }

func (e *netError) Error() string { return "provider unreachable: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

func isNetworkError(err error) bool {
	var ne *netError
	return errors.As(err, &ne)
}

// once makes one request. It returns the Retry-After wait when the
// provider sent one.
func (c *Client) once(ctx context.Context, url string, payload []byte, out any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	key := c.p.APIKey.reveal()
	switch c.p.Kind {
	case KindAnthropic:
		req.Header.Set("x-api-key", key)
		req.Header.Set("anthropic-version", AnthropicVersion)
	default:
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if be, ok := egress.Blocked(err); ok {
			return 0, fmt.Errorf("%w: %s", ErrAddressRefused, be.Reason) // not retried
		}
		// url.Error carries the URL only (keys are never in URLs); drop it anyway.
		return 0, &netError{err: errors.New(c.redact(errors.Unwrap(err)))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return 0, &netError{err: errors.New(c.redact(err))}
	}
	if resp.StatusCode/100 == 3 {
		return 0, &APIError{Status: resp.StatusCode, Message: "redirects are not followed; use the final address as base_url"}
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode, Message: c.redact(providerMessage(data)),
			Retryable: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500}
		return retryAfter(resp.Header.Get("Retry-After")), e
	}
	if err := json.Unmarshal(data, out); err != nil {
		return 0, fmt.Errorf("%w: response is not JSON of the expected shape", ErrMalformed)
	}
	return 0, nil
}

// redact removes the key from any text that leaves this package.
func (c *Client) redact(v any) string {
	s := fmt.Sprint(v)
	if k := c.p.APIKey.reveal(); len(k) >= 4 {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// providerMessage extracts {"error":{"message":...}} (both APIs use it).
// Anything else is not relayed: the endpoint's body is not ours to show.
func providerMessage(data []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return "no error message"
}

// retryAfter parses Retry-After: delta-seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
