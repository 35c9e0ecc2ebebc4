package backend

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// clientIP is the peer address, or, when the peer is a trusted proxy (the
// frontend), the right-most untrusted address of X-Forwarded-For.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) || i == 0 {
			return a.String()
		}
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// cors answers only the configured origins, with credentials; any other
// origin gets no CORS headers (and a 403 for preflights).
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed := slices.Contains(s.cfg.CORSOrigins, strings.TrimRight(origin, "/"))
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After, Content-Disposition")
		}
		if preflight {
			if !allowed {
				writeJSON(w, http.StatusForbidden, map[string]string{"detail": "origin not allowed"})
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are set on every response: the API returns data, never
// pages to render.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status code and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs each request (method, route pattern, status, duration,
// client IP; never headers, bodies or query strings) and records metrics by
// route pattern. It also turns panics into 500s.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "route", r.Pattern, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, map[string]string{"detail": "internal error"})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			} else if _, p, ok := strings.Cut(route, " "); ok {
				route = p
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(r.Method, route).Observe(d.Seconds())
			if route == "/metrics" || route == "/healthz" || route == "/readyz" {
				return
			}
			attrs := []any{"method", r.Method, "route", route, "status", status,
				"duration_ms", float64(d.Microseconds()) / 1000, "bytes", sw.bytes, "ip", s.clientIP(r)}
			if info.userID != "" {
				attrs = append(attrs, "user_id", info.userID)
			}
			s.log.Info("request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestInfo carries facts learnt inside the handler (the authenticated
// user) back to observe.
type requestInfo struct{ userID string }

type requestInfoKey struct{}

func noteUser(ctx context.Context, userID string) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.userID = userID
	}
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// limiterUnavailable counts rate limit decisions made without Redis,
	// by limit and outcome (allowed: proceeded unlimited; refused: 503).
	limiterUnavailable *prometheus.CounterVec
	// uploadStorageErrors counts uploads lost to the storage (no_space, io).
	uploadStorageErrors *prometheus.CounterVec
	// uploadsAborted counts uploads cut off by shutdown.
	uploadsAborted prometheus.Counter
	// databaseUnavailable counts requests answered 503 because PostgreSQL
	// could not be reached or refused the connection.
	databaseUnavailable prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cl_http_requests_total", Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cl_http_request_duration_seconds", Help: "HTTP request duration by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		limiterUnavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cl_rate_limiter_unavailable_total",
			Help: "Rate limit checks made while Redis was unavailable, by limit and outcome (allowed without limit, or refused).",
		}, []string{"limit", "outcome"}),
		uploadStorageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cl_upload_storage_errors_total", Help: "Uploads that could not be stored, by reason (no_space, io).",
		}, []string{"reason"}),
		uploadsAborted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cl_uploads_aborted_total", Help: "Uploads aborted because the server shut down.",
		}),
		databaseUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cl_database_unavailable_total", Help: "Requests answered 503 because PostgreSQL was unreachable or refused the connection.",
		}),
	}
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cl_queue_depth", Help: "Jobs in the Redis queue not yet acknowledged.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.queue.Depth(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
	m.registry.MustRegister(m.requests, m.duration, queueDepth, m.limiterUnavailable, m.uploadStorageErrors, m.uploadsAborted, m.databaseUnavailable,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
