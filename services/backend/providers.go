package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
)

// providerJSON never carries the key: only whether one is stored.
type providerJSON struct {
	ID             string `json:"id" format:"uuid"`
	Name           string `json:"name"`
	Kind           string `json:"kind" enum:"openai,anthropic"`
	BaseURL        string `json:"base_url" format:"uri"`
	Model          string `json:"model"`
	EmbeddingModel string `json:"embedding_model"`
	Active         bool   `json:"active"`
	HasAPIKey      bool   `json:"has_api_key"`
	// APIKeyUnreadable: the stored key cannot be decrypted with the
	// configured encryption keys (the key it was sealed with was lost and
	// new values accepted): an admin must enter it again.
	APIKeyUnreadable bool      `json:"api_key_unreadable"`
	CreatedAt        time.Time `json:"created_at"`
}

const providerColumns = `id, name, kind, base_url, model, embedding_model, active, api_key_encrypted, created_at`

// scanProvider reads a provider row; the sealed key is only checked for
// readability, never returned.
func (s *Server) scanProvider(row pgx.Row) (providerJSON, error) {
	var p providerJSON
	var sealed []byte
	if err := row.Scan(&p.ID, &p.Name, &p.Kind, &p.BaseURL, &p.Model, &p.EmbeddingModel, &p.Active, &sealed, &p.CreatedAt); err != nil {
		return p, err
	}
	if p.HasAPIKey = sealed != nil; p.HasAPIKey {
		_, err := s.box.Open(sealed)
		p.APIKeyUnreadable = err != nil
	}
	return p, nil
}

// providerRequest creates (name, kind and base_url required) or updates
// (fields present) a provider.
type providerRequest struct {
	Name           *string `json:"name,omitempty"`
	Kind           *string `json:"kind,omitempty" enum:"openai,anthropic"`
	BaseURL        *string `json:"base_url,omitempty" format:"uri"`
	Model          *string `json:"model,omitempty"`
	EmbeddingModel *string `json:"embedding_model,omitempty"`
	Active         *bool   `json:"active,omitempty"`
	APIKey         *string `json:"api_key,omitempty" writeOnly:"true"` // "" removes the key
}

func (in *providerRequest) validate(create bool, policy egress.Policy) error {
	if create && (in.Name == nil || in.Kind == nil || in.BaseURL == nil) {
		return unprocessable("name, kind and base_url are required")
	}
	if in.Name != nil {
		v := strings.TrimSpace(*in.Name)
		if v == "" || len(v) > 100 {
			return unprocessable("name must be 1 to 100 characters")
		}
		in.Name = &v
	}
	if in.Kind != nil && *in.Kind != "openai" && *in.Kind != "anthropic" {
		return unprocessable("kind must be openai or anthropic")
	}
	if in.BaseURL != nil {
		v := strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return unprocessable("base_url must be an http(s) URL without credentials")
		}
		// Address literals are refused at once; host names when the
		// connection is made (the address they resolve to may change).
		if err := policy.CheckURL(v); err != nil {
			if be, ok := egress.Blocked(err); ok {
				return unprocessable("base_url is not allowed: %s", be.Reason)
			}
			return unprocessable("base_url must be an http(s) URL without credentials")
		}
		in.BaseURL = &v
	}
	if in.APIKey != nil && len(*in.APIKey) > 4096 {
		return unprocessable("api_key is too long")
	}
	return nil
}

// sealKey encrypts an API key; nil means "no key".
func (s *Server) sealKey(k *string) ([]byte, error) {
	if k == nil || strings.TrimSpace(*k) == "" {
		return nil, nil
	}
	return s.box.SealString(strings.TrimSpace(*k))
}

func (s *Server) handleListProviders(w http.ResponseWriter, r *http.Request) error {
	rows, err := s.pool.Query(r.Context(), `SELECT `+providerColumns+` FROM ai_providers ORDER BY lower(name)`)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (providerJSON, error) { return s.scanProvider(row) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[providerJSON]{Items: items, Total: int64(len(items))})
	return nil
}

func (s *Server) handleCreateProvider(w http.ResponseWriter, r *http.Request) error {
	var in providerRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.validate(true, s.egress); err != nil {
		return err
	}
	if err := s.refuseTestKey(in.APIKey); err != nil {
		return err
	}
	sealed, err := s.sealKey(in.APIKey)
	if err != nil {
		return err
	}
	active := in.Active == nil || *in.Active
	ctx := r.Context()
	pr, err := s.scanProvider(s.pool.QueryRow(ctx, `INSERT INTO ai_providers (name, kind, base_url, model, embedding_model, api_key_encrypted, active)
		VALUES ($1, $2, $3, COALESCE($4, ''), COALESCE($5, ''), $6, $7) RETURNING `+providerColumns,
		*in.Name, *in.Kind, *in.BaseURL, in.Model, in.EmbeddingModel, sealed, active))
	if isUniqueViolation(err) {
		return errStatus(http.StatusConflict, "a provider with this name exists")
	}
	if err != nil {
		return err
	}
	p := caller(r)
	s.audit(ctx, auditEvent{Type: "ai_provider_created", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
		Detail: map[string]any{"provider_id": pr.ID, "kind": pr.Kind, "has_api_key": pr.HasAPIKey}})
	writeJSON(w, http.StatusCreated, pr)
	return nil
}

func (s *Server) handleUpdateProvider(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in providerRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := in.validate(false, s.egress); err != nil {
		return err
	}
	if err := s.refuseTestKey(in.APIKey); err != nil {
		return err
	}
	sealed, err := s.sealKey(in.APIKey)
	if err != nil {
		return err
	}
	ctx := r.Context()
	pr, err := s.scanProvider(s.pool.QueryRow(ctx, `UPDATE ai_providers SET
		name = COALESCE($2, name), kind = COALESCE($3, kind), base_url = COALESCE($4, base_url),
		model = COALESCE($5, model), embedding_model = COALESCE($6, embedding_model), active = COALESCE($7, active),
		api_key_encrypted = CASE WHEN $8 THEN $9 ELSE api_key_encrypted END, updated_at = now()
		WHERE id = $1 RETURNING `+providerColumns,
		id, in.Name, in.Kind, in.BaseURL, in.Model, in.EmbeddingModel, in.Active, in.APIKey != nil, sealed))
	if isUniqueViolation(err) {
		return errStatus(http.StatusConflict, "a provider with this name exists")
	}
	if err != nil {
		return err
	}
	p := caller(r)
	s.audit(ctx, auditEvent{Type: "ai_provider_updated", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
		Detail: map[string]any{"provider_id": pr.ID, "key_changed": in.APIKey != nil}})
	writeJSON(w, http.StatusOK, pr)
	return nil
}

func (s *Server) handleDeleteProvider(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	tag, err := s.pool.Exec(ctx, `DELETE FROM ai_providers WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errNotFound
	}
	p := caller(r)
	s.audit(ctx, auditEvent{Type: "ai_provider_deleted", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
		Detail: map[string]any{"provider_id": id}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type providerTestJSON struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// handleTestProvider checks that the provider answers with the stored key:
// GET <base_url>/models for OpenAI-compatible APIs (base_url includes /v1),
// a one-token POST .../v1/messages for Anthropic.
func (s *Server) handleTestProvider(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var kind, baseURL, model string
	var sealed []byte
	if err := s.pool.QueryRow(ctx, `SELECT kind, base_url, model, api_key_encrypted FROM ai_providers WHERE id = $1`, id).
		Scan(&kind, &baseURL, &model, &sealed); err != nil {
		return err
	}
	key := ""
	if sealed != nil {
		if key, err = s.box.OpenString(sealed); err != nil {
			writeJSON(w, http.StatusOK, providerTestJSON{OK: false, Detail: "stored API key cannot be decrypted (ENCRYPTION_KEY changed?)"})
			return nil
		}
	}
	ok, detail := s.probeProvider(ctx, kind, baseURL, model, key)
	writeJSON(w, http.StatusOK, providerTestJSON{OK: ok, Detail: detail})
	return nil
}

func (s *Server) probeProvider(ctx context.Context, kind, baseURL, model, key string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var req *http.Request
	var err error
	if kind == "anthropic" {
		if model == "" {
			model = "claude-3-5-haiku-latest"
		}
		body, _ := json.Marshal(map[string]any{"model": model, "max_tokens": 1,
			"messages": []map[string]string{{"role": "user", "content": "ping"}}})
		endpoint := baseURL + "/v1/messages" // https://api.anthropic.com, or a base URL ending in /v1 (as the worker does)
		if strings.HasSuffix(baseURL, "/v1") {
			endpoint = baseURL + "/messages"
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("anthropic-version", "2023-06-01")
			if key != "" {
				req.Header.Set("x-api-key", key)
			}
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/models", nil)
		if err == nil && key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
	}
	if err != nil {
		return false, "invalid base_url"
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		if be, ok := egress.Blocked(err); ok {
			// The resolved address is not shown: it would map internal names.
			return false, "the provider's address is not allowed: " + be.Reason
		}
		if ctx.Err() != nil {
			return false, "connection timed out"
		}
		return false, "connection failed: " + redactKey(transportError(err), key)
	}
	resp.Body.Close()
	// The answer's body is never shown: the endpoint is whatever an admin
	// typed in, and its content is not ours to relay.
	return probeResult(resp.StatusCode)
}

// probeResult explains a provider's HTTP status to an administrator.
func probeResult(code int) (bool, string) {
	switch {
	case code >= 200 && code < 300:
		return true, fmt.Sprintf("connected (HTTP %d)", code)
	case code >= 300 && code < 400:
		return false, fmt.Sprintf("HTTP %d: the provider redirects, and redirects are not followed; use the final address as base_url", code)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return false, fmt.Sprintf("HTTP %d: the provider refused the API key", code)
	case code == http.StatusNotFound:
		return false, fmt.Sprintf("HTTP %d: not found; check base_url (OpenAI-compatible APIs usually end in /v1) and the model", code)
	case code == http.StatusTooManyRequests:
		return false, fmt.Sprintf("HTTP %d: the provider is rate limiting this key", code)
	}
	return false, fmt.Sprintf("HTTP %d from the provider", code)
}

// transportError keeps the useful end of a transport error without the URL.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redactKey removes the key (and any long fragment of it) from provider text.
func redactKey(s, key string) string {
	if key == "" {
		return s
	}
	s = strings.ReplaceAll(s, key, "[redacted]")
	for n := 8; n <= len(key); n++ {
		for i := 0; i+n <= len(key); i += n {
			s = strings.ReplaceAll(s, key[i:i+n], "[redacted]")
		}
	}
	return s
}

type capabilityJSON struct {
	Capability string  `json:"capability" enum:"extraction_classification,document_understanding,reasoning,generation,embeddings"`
	ProviderID *string `json:"provider_id" format:"uuid"`
	Model      string  `json:"model"`
}

// capabilitiesJSON is the whole mapping (GET) or the entries to change (PUT).
type capabilitiesJSON struct {
	Items []capabilityJSON `json:"items"`
}

func (s *Server) writeCapabilities(w http.ResponseWriter, r *http.Request) error {
	rows, err := s.pool.Query(r.Context(), `SELECT capability, provider_id, model FROM ai_capability_mappings ORDER BY capability`)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (capabilityJSON, error) {
		var c capabilityJSON
		err := row.Scan(&c.Capability, &c.ProviderID, &c.Model)
		return c, err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, capabilitiesJSON{Items: items})
	return nil
}

func (s *Server) handleGetCapabilities(w http.ResponseWriter, r *http.Request) error {
	return s.writeCapabilities(w, r)
}

func (s *Server) handlePutCapabilities(w http.ResponseWriter, r *http.Request) error {
	var in capabilitiesJSON
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	for _, c := range in.Items {
		if !slices.Contains(db.Capabilities, c.Capability) {
			return unprocessable("unknown capability %q", c.Capability)
		}
		if c.ProviderID != nil && *c.ProviderID != "" && !validUUID(*c.ProviderID) {
			return unprocessable("provider_id must be a provider id or null")
		}
	}
	ctx := r.Context()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, c := range in.Items {
			var pid any
			if c.ProviderID != nil && *c.ProviderID != "" {
				pid = *c.ProviderID
				var exists bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ai_providers WHERE id = $1)`, pid).Scan(&exists); err != nil {
					return err
				}
				if !exists {
					return unprocessable("provider %s does not exist", *c.ProviderID)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ai_capability_mappings (capability, provider_id, model, updated_at)
				VALUES ($1, $2, $3, now()) ON CONFLICT (capability) DO UPDATE
				SET provider_id = EXCLUDED.provider_id, model = EXCLUDED.model, updated_at = now()`,
				c.Capability, pid, strings.TrimSpace(c.Model)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	p := caller(r)
	s.audit(ctx, auditEvent{Type: "ai_capabilities_changed", UserID: p.ID, Email: p.Email, IP: s.clientIP(r)})
	return s.writeCapabilities(w, r)
}
