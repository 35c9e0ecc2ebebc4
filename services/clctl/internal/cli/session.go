package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/clctl/api"
	"github.com/contract-lucidity/contract-lucidity/services/clctl/internal/tokenstore"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// refreshMargin: the access token is renewed this long before it expires
// (the web UI's margin too), so a long upload never starts on a token about
// to expire.
const refreshMargin = 10 * time.Minute

// session is the server clctl talks to and its tokens in the keyring.
type session struct {
	app    *App
	server string
	store  tokenstore.Store
	api    *api.ClientWithResponses // no Authorization header: auth endpoints
}

// serverURL is --server or API_BASE_URL, under the rules every service
// applies (required and https with ENVIRONMENT=production).
func (a *App) serverURL() (string, error) {
	prod := strings.EqualFold(strings.TrimSpace(a.getenv("ENVIRONMENT")), "production")
	raw := a.server
	if raw == "" {
		raw = a.getenv("API_BASE_URL")
	}
	u, err := config.CheckAPIBaseURL(prod, raw)
	if err != nil {
		return "", usageError("%v", err)
	}
	return u, nil
}

func (a *App) session() (*session, error) {
	if a.sess != nil {
		return a.sess, nil
	}
	server, err := a.serverURL()
	if err != nil {
		return nil, err
	}
	c, err := api.NewClientWithResponses(server, api.WithHTTPClient(a.http))
	if err != nil {
		return nil, err
	}
	a.sess = &session{app: a, server: server, store: tokenstore.Store{Server: server}, api: c}
	return a.sess, nil
}

// client returns an API client that sends a fresh access token, renewing it
// first when it expires within refreshMargin.
func (a *App) client(ctx context.Context) (*api.ClientWithResponses, error) {
	s, err := a.session()
	if err != nil {
		return nil, err
	}
	tok, err := s.fresh(ctx)
	if err != nil {
		return nil, err
	}
	return api.NewClientWithResponses(s.server, api.WithHTTPClient(a.http), api.WithRequestEditorFn(bearer(tok.AccessToken)))
}

func bearer(token string) api.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func (s *session) notLoggedIn() error {
	return authRequired("not logged in to %s: run clctl login", s.server)
}

// fresh loads the tokens and renews them when due. A refused renewal
// removes them from the keyring: the session is over.
func (s *session) fresh(ctx context.Context) (*tokenstore.Tokens, error) {
	t, err := s.store.Load()
	if errors.Is(err, tokenstore.ErrNotFound) {
		return nil, s.notLoggedIn()
	}
	if err != nil {
		return nil, err
	}
	if s.app.now().Before(t.Expiry.Add(-refreshMargin)) {
		return t, nil
	}
	resp, err := s.api.RefreshWithResponse(ctx, api.RefreshRequest{RefreshToken: t.RefreshToken})
	if err != nil {
		return nil, fmt.Errorf("renew the session: %w", err)
	}
	switch {
	case resp.JSON200 != nil:
		nt := s.tokens(resp.JSON200)
		if err := s.store.Save(nt); err != nil {
			return nil, err
		}
		return nt, nil
	case resp.StatusCode() == http.StatusUnauthorized:
		if err := s.store.Delete(); err != nil {
			return nil, err
		}
		return nil, authRequired("the server refused to renew the session for %s (signed out, expired or revoked); "+
			"its tokens were removed from the keyring: run clctl login", s.server)
	}
	return nil, fmt.Errorf("renew the session: %w", responseError(resp.HTTPResponse, resp.Body))
}

// tokens converts a token response; the expiry comes from expires_in
// (clctl never decodes the JWT).
func (s *session) tokens(tr *api.TokenResponse) *tokenstore.Tokens {
	return &tokenstore.Tokens{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		Expiry: s.app.now().Add(time.Duration(tr.ExpiresIn) * time.Second), Email: tr.User.Email}
}

// responseError turns an unexpected response into an error carrying the
// server's detail (never the body of a non-JSON answer).
func responseError(resp *http.Response, body []byte) error {
	if resp == nil {
		return errors.New("no response")
	}
	var e api.Error
	detail := http.StatusText(resp.StatusCode)
	if json.Unmarshal(body, &e) == nil && e.Detail != "" {
		detail = e.Detail
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return authRequired("the server refused the session (%s): run clctl login", detail)
	case http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			return fmt.Errorf("rate limited by the server: %s (retry after %s s)", detail, ra)
		}
		return fmt.Errorf("rate limited by the server: %s", detail)
	}
	return fmt.Errorf("%s (HTTP %d)", detail, resp.StatusCode)
}
