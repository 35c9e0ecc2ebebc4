package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
)

// metrics are the worker's Prometheus series, on a registry of its own (no
// global state; several workers can live in one test process).
type metrics struct {
	reg      *prometheus.Registry
	stage    *prometheus.HistogramVec
	failures *prometheus.CounterVec
	jobs     *prometheus.CounterVec
	inFlight prometheus.Gauge
	tokens   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
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
	m.reg.MustRegister(m.stage, m.failures, m.jobs, m.inFlight, m.tokens,
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

// queueCollector reads the queue's counts from Redis at each scrape: every
// replica reports the same, current numbers (aggregate them with max, not
// sum). While Redis cannot be read it reports none: an absent series, not
// a stale one.
type queueCollector struct {
	q                        *queue.Queue
	pending, inFlight, depth *prometheus.Desc
}

func newQueueCollector(q *queue.Queue) *queueCollector {
	labels := prometheus.Labels{"stream": q.Stream(), "group": q.Group()}
	return &queueCollector{q: q,
		pending: prometheus.NewDesc("cl_queue_pending_jobs",
			"Jobs enqueued and not yet taken by any worker (the whole queue, the same on every replica).", nil, labels),
		inFlight: prometheus.NewDesc("cl_queue_inflight_jobs",
			"Jobs taken by a worker and not yet finished (the whole queue, the same on every replica).", nil, labels),
		depth: prometheus.NewDesc("cl_worker_queue_depth",
			"Jobs not yet finished: cl_queue_pending_jobs + cl_queue_inflight_jobs.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.inFlight
	ch <- c.depth
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.q.Stats(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Pending+s.InFlight))
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
