package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the worker's Prometheus series, on a registry of its own (no
// global state; several workers can live in one test process).
type metrics struct {
	reg        *prometheus.Registry
	queueDepth prometheus.Gauge
	stage      *prometheus.HistogramVec
	failures   *prometheus.CounterVec
	jobs       *prometheus.CounterVec
	inFlight   prometheus.Gauge
	tokens     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cl_worker_queue_depth", Help: "Jobs in the queue not yet acknowledged (waiting or in progress).",
		}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cl_worker_stage_duration_seconds", Help: "Duration of pipeline stages.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"stage"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cl_worker_failures_total", Help: "Failed job attempts by kind (permanent, transient, handed_back).",
		}, []string{"job", "kind"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cl_worker_jobs_total", Help: "Finished jobs by kind and result.",
		}, []string{"job", "result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cl_worker_jobs_in_flight", Help: "Jobs being processed now.",
		}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cl_worker_ai_tokens_total", Help: "Tokens spent on AI providers.",
		}),
	}
	m.reg.MustRegister(m.queueDepth, m.stage, m.failures, m.jobs, m.inFlight, m.tokens,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Export every series from the start, so rates and alerts work from zero.
	for _, job := range []string{"document", "report"} {
		for _, kind := range []string{"permanent", "transient", "handed_back"} {
			m.failures.WithLabelValues(job, kind)
		}
		for _, res := range []jobResult{resultDone, resultFailed, resultRetry, resultHandBack, resultSkipped} {
			m.jobs.WithLabelValues(job, string(res))
		}
	}
	return m
}

func (m *metrics) observe(stage string, start time.Time) {
	m.stage.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}

// Handler serves /healthz (liveness: the process answers), /readyz
// (PostgreSQL and Redis reachable) and /metrics.
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "redis": "ok"}
		status := http.StatusOK
		if err := w.pool.Ping(ctx); err != nil {
			checks["database"], status = "unreachable", http.StatusServiceUnavailable
		}
		if err := w.rdb.Ping(ctx).Err(); err != nil {
			checks["redis"], status = "unreachable", http.StatusServiceUnavailable
		}
		writeJSON(rw, status, checks)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
