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
	"strconv"
	"strings"
	"time"
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

// ConfigFromEnv reads the environment contract (design.md section 5):
// ENVIRONMENT, BACKEND_INTERNAL_URL, MAX_UPLOAD_SIZE_MB, API_BASE_URL.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	env := strings.ToLower(strings.TrimSpace(getenv("ENVIRONMENT")))
	switch env {
	case "", "development":
	case "production":
		cfg.Production = true
	default:
		return cfg, fmt.Errorf("ENVIRONMENT must be production or development, got %q", env)
	}
	raw := strings.TrimSpace(getenv("BACKEND_INTERNAL_URL"))
	if raw == "" {
		raw = "http://localhost:8000"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("BACKEND_INTERNAL_URL must be an http(s) URL with a host, got %q", raw)
	}
	cfg.BackendURL = u

	mb := int64(100)
	if s := strings.TrimSpace(getenv("MAX_UPLOAD_SIZE_MB")); s != "" {
		mb, err = strconv.ParseInt(s, 10, 64)
		if err != nil || mb <= 0 || mb > 100_000 {
			return cfg, fmt.Errorf("MAX_UPLOAD_SIZE_MB must be a positive number of megabytes, got %q", s)
		}
	}
	cfg.MaxUploadBytes = mb<<20 + multipartSlack

	if cfg.Production {
		api := strings.TrimSpace(getenv("API_BASE_URL"))
		if api == "" {
			return cfg, errors.New("API_BASE_URL is required in production (the public https URL of the site)")
		}
		au, err := url.Parse(api)
		if err != nil || au.Scheme != "https" || au.Host == "" {
			return cfg, fmt.Errorf("API_BASE_URL must be an https URL in production, got %q", api)
		}
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
