// Package stacktest runs the product in-process for end-to-end tests: a
// real PostgreSQL and Redis (testenv), the backend serving on a loopback
// port and the worker consuming its queue, both configured from one
// environment exactly as the binaries are (config.LoadFrom).
package stacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// AdminEmail is the seeded admin's email.
const AdminEmail = "admin@example.com"

// Options adjust the stack.
type Options struct {
	// Env adds to or overrides the default environment (development mode,
	// generous rate limits, bcrypt cost 4, worker concurrency 2).
	Env map[string]string
	// Logger receives the services' logs; nil discards them.
	Logger *slog.Logger
	// Worker tunes the worker (e.g. a short queue poll).
	Worker worker.Options
	// S3 keeps documents and reports in object storage: a SeaweedFS
	// server (with server-side encryption, required) instead of a
	// directory (STORAGE_BACKEND=s3).
	S3 bool
}

// Stack is a running backend and worker sharing PostgreSQL, Redis and
// storage.
type Stack struct {
	API           string            // the backend's base URL, http://127.0.0.1:port
	Env           map[string]string // the environment the services were configured from
	AdminPassword string            // the seeded admin's initial password (must be changed)
	Pool          *pgxpool.Pool     // the worker's pool, for tests that look into the database
	Redis         *redis.Client
	S3            *testenv.S3 // the object store, with Options.S3

	cancel  context.CancelFunc
	done    []chan error
	cleanup []func()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Start starts everything and waits until the backend is ready. Close
// stops it all; on error Start has already cleaned up.
func Start(opts Options) (_ *Stack, err error) {
	st := &Stack{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	pg, err := testenv.StartPostgres()
	if err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, pg.Stop)
	rd, err := testenv.StartRedis()
	if err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, rd.Stop)
	dbURL, err := pg.CreateDatabase("e2e")
	if err != nil {
		return nil, err
	}
	storage, err := os.MkdirTemp("", "cl-e2e-storage-")
	if err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, func() { os.RemoveAll(storage) })

	st.AdminPassword = "initial-" + randomHex(8)
	st.Env = map[string]string{
		"ENVIRONMENT":                  "development",
		"DATABASE_URL":                 dbURL,
		"REDIS_URL":                    rd.URL(0),
		"STORAGE_PATH":                 storage,
		"JWT_SECRET_KEY":               randomHex(32),
		"ENCRYPTION_KEY":               randomHex(32),
		"INITIAL_ADMIN_EMAIL":          AdminEmail,
		"INITIAL_ADMIN_PASSWORD":       st.AdminPassword,
		"BCRYPT_COST":                  "4",
		"RATE_LIMIT_LOGIN_PER_MINUTE":  "1000",
		"RATE_LIMIT_UPLOAD_PER_MINUTE": "10000",
		"RATE_LIMIT_API_PER_MINUTE":    "1000000",
		"WORKER_VISIBILITY_TIMEOUT":    "2m",
		"WORKER_CONCURRENCY":           "2",
		"MAX_UPLOAD_SIZE_MB":           "20",
		// Port 0: a fixed metrics port could be taken on a shared machine,
		// and then Run would return at once and no job would ever run.
		"WORKER_METRICS_ADDR": "127.0.0.1:0",
	}
	if opts.S3 {
		if st.S3, err = testenv.StartS3With(testenv.S3Options{SSE: true}); err != nil {
			return nil, err
		}
		st.cleanup = append(st.cleanup, st.S3.Stop)
		maps.Copy(st.Env, map[string]string{
			"STORAGE_BACKEND":              "s3",
			"STORAGE_S3_ENDPOINT":          "http://" + st.S3.Endpoint,
			"STORAGE_S3_REGION":            st.S3.Region,
			"STORAGE_S3_BUCKET":            st.S3.Bucket,
			"STORAGE_S3_PREFIX":            "instance",
			"STORAGE_S3_ACCESS_KEY_ID":     st.S3.AccessKey,
			"STORAGE_S3_SECRET_ACCESS_KEY": st.S3.SecretKey,
			"STORAGE_S3_FORCE_PATH_STYLE":  "true",
			"STORAGE_S3_SSE":               "s3",
		})
	}
	maps.Copy(st.Env, opts.Env)
	lookup := func(k string) (string, bool) { v, ok := st.Env[k]; return v, ok }
	ctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel

	// As the operator does: the migrate Job, then backend and worker.
	mcfg, err := config.LoadFrom(config.Migrate, lookup)
	if err != nil {
		return nil, err
	}
	mpool, err := db.Open(ctx, mcfg)
	if err != nil {
		return nil, err
	}
	_, err = db.Setup(ctx, mpool, mcfg)
	mpool.Close()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	bcfg, err := config.LoadFrom(config.Backend, lookup)
	if err != nil {
		return nil, err
	}
	be, err := backend.New(ctx, bcfg, backend.Options{Logger: log.With("service", "backend")})
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	st.cleanup = append(st.cleanup, func() { be.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st.API = "http://" + ln.Addr().String()
	beDone := make(chan error, 1)
	go func() { beDone <- be.Serve(ctx, ln) }()
	st.done = append(st.done, beDone)

	wcfg, err := config.LoadFrom(config.Worker, lookup)
	if err != nil {
		return nil, err
	}
	if st.Pool, err = db.Open(ctx, wcfg); err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, st.Pool.Close)
	ropt, err := wcfg.RedisOptions()
	if err != nil {
		return nil, err
	}
	st.Redis = redis.NewClient(ropt)
	st.cleanup = append(st.cleanup, func() { st.Redis.Close() })
	w, err := worker.New(wcfg, worker.Deps{Pool: st.Pool, Redis: st.Redis, Logger: log.With("service", "worker"), Options: opts.Worker})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	wDone := make(chan error, 1)
	go func() { wDone <- w.Run(ctx) }()
	st.done = append(st.done, wDone)

	if err := WaitReady(st.API+"/readyz", 60*time.Second); err != nil {
		return nil, err
	}
	select {
	case err := <-wDone:
		return nil, fmt.Errorf("worker stopped at start: %v", err)
	case err := <-beDone:
		return nil, fmt.Errorf("backend stopped at start: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	return st, nil
}

// Close stops the worker and the backend (waiting up to 30 s for each to
// finish its work) and removes everything Start made.
func (st *Stack) Close() {
	if st.cancel != nil {
		st.cancel()
	}
	for _, ch := range st.done {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
		}
	}
	for i := len(st.cleanup) - 1; i >= 0; i-- {
		st.cleanup[i]()
	}
}

// WaitReady polls u until it answers 200 OK.
func WaitReady(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last error %v)", u, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
