// Package backend is the REST API of Contract Lucidity (api.md): accounts,
// projects, documents, clauses, decisions, reports, search and
// administration, on PostgreSQL and Redis.
//
// New builds a Server from a config.Config; Handler is the complete HTTP
// wiring (what tests and the frontend's browser tests mount), Run serves it
// with graceful shutdown.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/contract-lucidity/contract-lucidity/services/internal/accesstoken"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

// Server holds the backend's dependencies. Create it with New.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	rdb     *redis.Client
	queue   *queue.Queue
	limiter *redis_rate.Limiter
	box     *secretbox.Box
	tokens  *accesstoken.Ring
	store   storage.Store
	metrics *metrics
	routes  []route
	handler http.Handler
	openapi []byte // the generated OpenAPI document
	// dummyHash is compared against when the email is unknown, so an
	// unknown user and a wrong password take the same time.
	dummyHash []byte
	// httpClient performs AI provider connection tests (egress policy).
	httpClient *http.Client
	egress     egress.Policy
	// limiterDownUntil (unix ns) skips Redis after a limiter failure;
	// limiterLoggedAt throttles the outage log.
	limiterDownUntil atomic.Int64
	limiterLoggedAt  atomic.Int64
	uploads          uploadTracker
	shutdownGrace    time.Duration
	// principals caches authenticated users for at most principalTTL.
	principals *principalCache
	verified   verifiedTokens
	// leases hold the per-user API budget taken from Redis in advance.
	leases apiLeases
	// closing ends the live event streams when the server shuts down
	// (they would otherwise hold the shutdown for its whole grace period).
	closing        chan struct{}
	closeOnce      sync.Once
	eventHeartbeat time.Duration
}

// Options adjust New for tests and embedding.
type Options struct {
	// Logger receives structured logs (default: JSON on stderr at cfg.LogLevel).
	Logger *slog.Logger
	// ShutdownGrace is how long Serve lets requests finish after its
	// context ends before in-flight uploads are aborted (default 20 s:
	// with the abort's few seconds, inside Kubernetes' default 30 s
	// termination grace period).
	ShutdownGrace time.Duration
	// EventHeartbeat is how often an event stream sends a keep-alive and
	// re-checks the caller's access (default 20 s).
	EventHeartbeat time.Duration
}

// New connects to PostgreSQL and Redis, checks that the database is
// migrated to this version (db.Verify: `contract-lucidity migrate` applies
// migrations, the backend never changes the schema), inserts the
// first-start data where missing (db.Seed: settings, the initial admin) and
// wires the HTTP handler.
func New(ctx context.Context, cfg *config.Config, opts ...Options) (*Server, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	s := &Server{cfg: cfg, log: log, egress: cfg.EgressPolicy(), shutdownGrace: o.ShutdownGrace, principals: newPrincipalCache(),
		closing: make(chan struct{}), eventHeartbeat: o.EventHeartbeat}
	if s.shutdownGrace <= 0 {
		s.shutdownGrace = 20 * time.Second
	}
	if s.eventHeartbeat <= 0 {
		s.eventHeartbeat = 20 * time.Second
	}
	s.httpClient = egress.NewClient(s.egress, 15*time.Second)
	s.uploads.active = map[*upload]struct{}{}
	var err error
	if s.box, err = secretbox.New(cfg.EncryptionKey, cfg.EncryptionPreviousKeys...); err != nil {
		return nil, err
	}
	if s.tokens, err = accesstoken.NewRing(cfg.JWTSecret, cfg.JWTPreviousSecrets...); err != nil {
		return nil, fmt.Errorf("JWT_SECRET_KEY: %w", err)
	}
	if s.store, err = storage.Open(ctx, cfg, log); err != nil {
		return nil, err
	}
	s.removeStaleUploads()
	if s.dummyHash, err = bcrypt.GenerateFromPassword([]byte("dummy password for timing equality"), cfg.BcryptCost); err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	if s.pool, err = db.Open(ctx, cfg); err != nil {
		return nil, err
	}
	if err := db.Verify(ctx, s.pool); err != nil {
		s.pool.Close()
		return nil, err
	}
	if err := db.Seed(ctx, s.pool, cfg); err != nil {
		s.pool.Close()
		return nil, err
	}
	ropt, err := cfg.RedisOptions()
	if err != nil {
		s.pool.Close()
		return nil, err
	}
	// Deadlines of the request contexts bound Redis calls (the limiter's
	// one-second budget), not only the client's fixed timeouts.
	ropt.ContextTimeoutEnabled = true
	s.rdb = redis.NewClient(ropt)
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitRedis(pingCtx, s.rdb); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to redis: %w", err)
	}
	s.queue = queue.New(s.rdb, queue.Options{VisibilityTimeout: cfg.WorkerVisibilityTimeout})
	s.limiter = redis_rate.NewLimiter(s.rdb)
	s.metrics = newMetrics(s)
	s.handler = s.buildHandler()
	s.reportStaleCiphertexts(ctx)
	return s, nil
}

func waitRedis(ctx context.Context, rdb *redis.Client) error {
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Handler is the complete HTTP handler of the API port (API and health).
func (s *Server) Handler() http.Handler { return s.handler }

// MetricsHandler serves the Prometheus metrics. Run serves it on
// cfg.BackendMetricsAddr: never on the API port, so the route names and
// counters are not public and the metrics port can be opened to
// monitoring alone.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}

// Close releases the database pool and the Redis client.
func (s *Server) Close() {
	if s.rdb != nil {
		s.rdb.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// Run serves the API on cfg.BackendAddr and the metrics on
// cfg.BackendMetricsAddr until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.BackendAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.BackendAddr, err)
	}
	mln, err := net.Listen("tcp", s.cfg.BackendMetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen %s (BACKEND_METRICS_ADDR): %w", s.cfg.BackendMetricsAddr, err)
	}
	ms := &http.Server{Handler: s.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := ms.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "error", err)
		}
	}()
	s.log.Info("metrics listening", "addr", mln.Addr().String())
	defer ms.Close()
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		MaxHeaderBytes:    64 << 10,
	}
	srv.RegisterOnShutdown(func() { s.closeOnce.Do(func() { close(s.closing) }) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("backend listening", "addr", ln.Addr().String())
	sweepDone := make(chan struct{})
	var sweeper sync.WaitGroup
	sweeper.Go(func() { s.sweepStaleUploads(sweepDone) })
	defer func() { close(sweepDone); sweeper.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), s.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// The grace period is over: uploads still running are aborted
		// (the client gets a 503, the partial file is removed), then the
		// remaining connections are closed.
		n := s.abortUploads(3 * time.Second)
		srv.Close()
		s.log.Warn("shutdown grace period ended; remaining requests cut off", "uploads_aborted", n)
	}
	s.uploads.abandonLeftovers(s.log)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
