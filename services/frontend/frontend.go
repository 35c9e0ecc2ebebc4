// Package frontend serves the web UI and forwards /api to the backend.
//
// The UI is plain HTML, CSS and native ES modules embedded in the binary (no
// JavaScript build step). Every response carries the security headers of the
// product's security guide: a strict Content-Security-Policy without inline
// scripts or styles, frame-ancestors 'none', Referrer-Policy, nosniff, and
// HSTS in production.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// Config is what the frontend needs to run. Build it with ConfigFromEnv or by hand in tests.
type Config struct {
	// BackendURL is where /api/* is forwarded (BACKEND_INTERNAL_URL).
	BackendURL *url.URL
	// Production enables HSTS and the strict start-up checks.
	Production bool
	// MaxUploadBytes caps the body of an upload forwarded to the backend
	// (MAX_UPLOAD_SIZE_MB plus room for the multipart envelope); 0 means no cap.
	// The backend enforces the exact limit from its settings.
	MaxUploadBytes int64
	// Transport is used for the proxy and the readiness probe; nil means a default transport.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// multipartSlack is the room left for the multipart envelope above the file size limit.
const multipartSlack = 1 << 20

// FromServiceConfig derives the frontend's settings from the shared service
// configuration (config.Load(config.Frontend), which applies the production
// checks of design.md section 5, API_BASE_URL included).
func FromServiceConfig(c *config.Config) (Config, error) {
	var cfg Config
	u, err := url.Parse(c.BackendInternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("BACKEND_INTERNAL_URL must be an http(s) URL with a host, got %q", c.BackendInternalURL)
	}
	cfg.BackendURL = u
	cfg.Production = c.Production()
	if c.MaxUploadSizeMB > 0 {
		cfg.MaxUploadBytes = c.MaxUploadBytes() + multipartSlack
	}
	return cfg, nil
}

// Server is the frontend's HTTP handler.
type Server struct {
	cfg    Config
	log    *slog.Logger
	assets *assets
	proxy  http.Handler
	client *http.Client
	mux    *http.ServeMux
}

// New builds the handler: UI assets, /api proxy, health endpoints, security headers.
func New(cfg Config) (*Server, error) {
	if cfg.BackendURL == nil {
		return nil, errors.New("frontend: BackendURL is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = defaultTransport()
	}
	a, err := loadAssets()
	if err != nil {
		return nil, fmt.Errorf("frontend: load assets: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		assets: a,
		proxy:  newProxy(cfg),
		client: &http.Client{Transport: cfg.Transport, Timeout: 3 * time.Second},
		mux:    http.NewServeMux(),
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("/api/", s.proxy)
	s.mux.Handle("/api", s.proxy)
	s.mux.HandleFunc("GET "+assetPrefix, s.serveAsset)
	s.mux.HandleFunc("GET /favicon.ico", s.favicon)
	s.mux.HandleFunc("/", s.serveApp)
	return s, nil
}

// ServeHTTP adds the security headers and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), s.cfg.Production)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz reports ready when the backend answers its liveness endpoint.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.backendReachable(r.Context()); err != nil {
		s.log.Warn("readiness check failed", "check", "backend", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","detail":"backend unreachable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (s *Server) backendReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u := s.cfg.BackendURL.JoinPath("/healthz")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", u.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", u.Redacted(), resp.StatusCode)
	}
	return nil
}
