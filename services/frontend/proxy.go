package frontend

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

func defaultTransport() http.RoundTripper {
	return &http.Transport{
		Proxy:                 nil, // the backend is internal: never via an outbound proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// No ResponseHeaderTimeout: an upload of a large file may take long
		// before the backend answers; the client's connection bounds it.
	}
}

// newProxy forwards /api/* to the backend. Request bodies are streamed (an
// upload is never held in memory or on disk here), responses are flushed as
// they arrive, and the client's address is appended to X-Forwarded-For so the
// backend's per-IP login limit sees the real client behind the ingress.
func newProxy(cfg Config) http.Handler {
	target := cfg.BackendURL
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			// Keep the chain from the ingress, then append the peer address.
			if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				pr.Out.Header["X-Forwarded-For"] = append([]string(nil), xff...)
			}
			pr.SetXForwarded()
			// TLS terminates at the ingress: keep what it says about the scheme and host.
			if p := pr.In.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
				pr.Out.Header.Set("X-Forwarded-Proto", p)
			}
			if h := pr.In.Header.Get("X-Forwarded-Host"); h != "" {
				pr.Out.Header.Set("X-Forwarded-Host", h)
			}
		},
		Transport:     cfg.Transport,
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			dropUpstreamSecurityHeaders(resp.Header)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeDetail(w, http.StatusRequestEntityTooLarge, "file too large")
				return
			}
			if r.Context().Err() != nil {
				// The client went away; nobody reads the answer.
				return
			}
			cfg.Logger.Error("proxy to backend failed", "method", r.Method, "path", r.URL.Path, "error", err)
			writeDetail(w, http.StatusBadGateway, "the service is temporarily unavailable")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.MaxUploadBytes > 0 && isUpload(r) {
			if r.ContentLength > cfg.MaxUploadBytes {
				writeDetail(w, http.StatusRequestEntityTooLarge, "file too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxUploadBytes)
		}
		rp.ServeHTTP(w, r)
	})
}

func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/api/documents"
}

func writeDetail(w http.ResponseWriter, code int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if code == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"detail":"` + detail + `"}` + "\n"))
}
