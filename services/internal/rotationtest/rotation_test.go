/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package rotationtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/controllers/sidecars"
	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv/stacktest"
)

// The operator's password rotations, played without Kubernetes against
// real servers: backends (the pods) are started and stopped in the order a
// rolling update does, the credentials helpers (the operator's scripts)
// change the servers, and clients send authenticated requests all along,
// each of which reads PostgreSQL (the user) and Redis (the rate limit).
// Pool connections live 100 ms, so new connections authenticate all the
// time, including right after each server change.

const adminEmail = "admin@example.com"

// fleet is the set of backends a Service would route to.
type fleet struct {
	mu      sync.RWMutex
	targets []string
}

func (f *fleet) set(targets ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = targets
}

func (f *fleet) pick() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.targets[rand.IntN(len(f.targets))]
}

// load sends authenticated requests through the fleet until stopped.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErrs  []string
	served     map[string]int64 // successful requests per backend
}

func (l *load) run(ctx context.Context, f *fleet, token string, workers int) (wait func()) {
	l.served = map[string]int64{}
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				target := f.pick()
				req, _ := http.NewRequest(http.MethodGet, target+"/api/auth/me", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = errors.New(resp.Status)
					}
				}
				l.mu.Lock()
				if err != nil {
					l.failed.Add(1)
					if len(l.firstErrs) < 5 {
						l.firstErrs = append(l.firstErrs, target+": "+err.Error())
					}
				} else {
					l.ok.Add(1)
					l.served[target]++
				}
				l.mu.Unlock()
			}
		}()
	}
	return wg.Wait
}

func (l *load) servedBy(target string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.served[target]
}

// backendProc is one backend "pod".
type backendProc struct {
	URL  string
	stop func()
}

func startBackend(tb testing.TB, env map[string]string) *backendProc {
	tb.Helper()
	cfg, err := config.LoadFrom(config.Backend, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	be, err := backend.New(ctx, cfg, backend.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- be.Serve(ctx, ln) }()
	p := &backendProc{URL: "http://" + ln.Addr().String()}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			be.Close()
		})
	}
	tb.Cleanup(p.stop)
	if err := stacktest.WaitReady(p.URL+"/readyz", 60*time.Second); err != nil {
		tb.Fatal(err)
	}
	return p
}

// migrate runs what the operator's migration Job runs before the backends start.
func migrate(tb testing.TB, env map[string]string) {
	tb.Helper()
	cfg, err := config.LoadFrom(config.Migrate, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	if _, err := db.Setup(ctx, pool, cfg); err != nil {
		tb.Fatal(err)
	}
}

// replace is a rolling update's step: the new backend is ready (started),
// the old one leaves the Service, then gets SIGTERM after a moment (a
// preStop pause lets in-flight requests and endpoint updates settle).
func replace(f *fleet, old *backendProc, keep ...*backendProc) {
	var urls []string
	for _, k := range keep {
		urls = append(urls, k.URL)
	}
	f.set(urls...)
	time.Sleep(200 * time.Millisecond)
	old.stop()
}

func login(tb testing.TB, api, password string) string {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"email": adminEmail, "password": password})
	resp, err := http.Post(api+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		tb.Fatalf("login: %s %v", resp.Status, err)
	}
	return out.AccessToken
}

func baseEnv(tb testing.TB) map[string]string {
	return map[string]string{
		"ENVIRONMENT":            "development",
		"STORAGE_PATH":           tb.TempDir(),
		"JWT_SECRET_KEY":         random(tb),
		"ENCRYPTION_KEY":         random(tb),
		"INITIAL_ADMIN_EMAIL":    adminEmail,
		"INITIAL_ADMIN_PASSWORD": "initial-" + random(tb)[:12],
		"BCRYPT_COST":            "4",
		// Every request must reach Redis and succeed: no limit in the way.
		"RATE_LIMIT_API_PER_MINUTE": "1000000",
		"BACKEND_METRICS_ADDR":      "127.0.0.1:0",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// rotationResult is what a rotation run measured.
type rotationResult struct {
	requests, failed int64
	errs             []string
	duration         time.Duration
}

// rotateDatabasePassword plays the operator's database rotation. The
// PostgreSQL server runs like the official image (local trust) and the
// credentials helper applies the Secret's files; the application role
// starts with the old password.
func rotateDatabasePassword(tb testing.TB, workers int) rotationResult {
	pg, err := testenv.StartPostgresWith(testenv.PostgresOptions{Superuser: "postgres", LocalTrust: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pg.Stop)
	rd := testenv.RedisTB(tb)
	old, next, suOld, suNext := random(tb), random(tb), random(tb), random(tb)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, q := range []string{"CREATE ROLE contract_lucidity LOGIN PASSWORD '" + old + "'",
		"CREATE DATABASE contract_lucidity OWNER contract_lucidity"} {
		if _, err := su.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	su.Close(ctx)
	secret := tb.TempDir()
	files := func(app, super string) {
		writeFile(tb, filepath.Join(secret, "password"), app)
		writeFile(tb, filepath.Join(secret, "superuser-password"), super)
	}
	files(old, suOld)
	helper := newScript(tb, sidecars.PostgresCredentials, "CREDENTIALS_DIR="+secret,
		"CREDENTIALS_STATE="+filepath.Join(tb.TempDir(), "applied"), "PGSOCKET_DIR="+pg.SocketDir(),
		fmt.Sprintf("PGPORT=%d", pg.Port), "CREDENTIALS_POLL_SECONDS=0.1", "PATH="+pg.BinDir()+":"+os.Getenv("PATH"))
	helper.start()
	eventually(tb, "credentials applied", helper.check)

	dbURL := func(pw string) string {
		return fmt.Sprintf("postgres://contract_lucidity:%s@127.0.0.1:%d/contract_lucidity?sslmode=disable&pool_max_conn_lifetime=100ms", pw, pg.Port)
	}
	env := with(baseEnv(tb), "REDIS_URL", rd.URL(0))

	migrate(tb, with(env, "DATABASE_URL", dbURL(old)))
	// Staged: the pods know the new password as their fallback.
	a := startBackend(tb, with(env, "DATABASE_URL", dbURL(old), "POSTGRES_PASSWORD_FALLBACK", next))
	token := login(tb, a.URL, env["INITIAL_ADMIN_PASSWORD"])
	f := &fleet{}
	f.set(a.URL)
	var l load
	lctx, stopLoad := context.WithCancel(context.Background())
	start := time.Now()
	waitLoad := l.run(lctx, f, token, workers)
	time.Sleep(300 * time.Millisecond)

	// Promoted: the Secret holds the new passwords (the old one as the
	// fallback); the credentials helper sets them on the server while the
	// staged backend keeps serving, and the pods roll.
	files(next, suNext)
	eventually(tb, "new passwords applied", helper.check)
	servedBefore := l.servedBy(a.URL)
	time.Sleep(500 * time.Millisecond)
	if l.servedBy(a.URL) == servedBefore {
		tb.Fatal("the staged backend served nothing after the server's password changed")
	}
	b := startBackend(tb, with(env, "DATABASE_URL", dbURL(next), "POSTGRES_PASSWORD_FALLBACK", old))
	f.set(a.URL, b.URL)
	time.Sleep(300 * time.Millisecond)
	replace(f, a, b)
	time.Sleep(300 * time.Millisecond)

	// Completing: the fallback is dropped and the pods roll once more.
	c := startBackend(tb, with(env, "DATABASE_URL", dbURL(next), "POSTGRES_PASSWORD_FALLBACK", ""))
	f.set(b.URL, c.URL)
	time.Sleep(300 * time.Millisecond)
	replace(f, b, c)
	time.Sleep(300 * time.Millisecond)
	stopLoad()
	waitLoad()
	if l.servedBy(c.URL) == 0 {
		tb.Fatal("the last backend served nothing")
	}
	return rotationResult{requests: l.ok.Load() + l.failed.Load(), failed: l.failed.Load(), errs: l.firstErrs, duration: time.Since(start)}
}

// rotateRedisPassword plays the operator's Redis rotation: the server reads
// users.acl and the ACL helper reloads it when it changes.
func rotateRedisPassword(tb testing.TB, workers int) rotationResult {
	conf := tb.TempDir()
	acl := filepath.Join(conf, "users.acl")
	old, next := random(tb), random(tb)
	writeFile(tb, acl, aclFor(old))
	rd, err := testenv.StartRedisWith(testenv.RedisOptions{ACLFile: acl})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rd.Stop)
	pg := testenv.PostgresTB(tb)
	secret := tb.TempDir()
	writeFile(tb, filepath.Join(secret, "password"), old)
	helper := newScript(tb, sidecars.RedisACL, "REDIS_ACL_FILE="+acl, "REDIS_SECRET_DIR="+secret,
		"ACL_STATE="+filepath.Join(tb.TempDir(), "applied"), fmt.Sprintf("REDIS_PORT=%d", rd.Port), "ACL_POLL_SECONDS=0.1")
	helper.start()
	eventually(tb, "ACL loaded", helper.check)

	redisURL := fmt.Sprintf("redis://%s/0?conn_max_lifetime=100ms", rd.Addr())
	env := with(baseEnv(tb), "DATABASE_URL", pg.NewDatabase(tb), "REDIS_URL", redisURL)

	migrate(tb, env)
	a := startBackend(tb, with(env, "REDIS_PASSWORD", old))
	token := login(tb, a.URL, env["INITIAL_ADMIN_PASSWORD"])
	f := &fleet{}
	f.set(a.URL)
	var l load
	lctx, stopLoad := context.WithCancel(context.Background())
	start := time.Now()
	waitLoad := l.run(lctx, f, token, workers)
	time.Sleep(300 * time.Millisecond)

	// Staged: the server accepts both passwords (the pods roll, unchanged).
	writeFile(tb, filepath.Join(secret, "fallback-password"), next)
	writeFile(tb, acl, aclFor(old, next))
	eventually(tb, "both passwords loaded", helper.check)
	time.Sleep(300 * time.Millisecond)
	// Promoted: the pods roll to the new password.
	writeFile(tb, filepath.Join(secret, "password"), next)
	writeFile(tb, filepath.Join(secret, "fallback-password"), old)
	b := startBackend(tb, with(env, "REDIS_PASSWORD", next))
	f.set(a.URL, b.URL)
	time.Sleep(300 * time.Millisecond)
	replace(f, a, b)
	// Completing: only the new password; the backend connected with the
	// new one keeps serving.
	if err := os.Remove(filepath.Join(secret, "fallback-password")); err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, acl, aclFor(next))
	eventually(tb, "the new password only", helper.check)
	servedBefore := l.servedBy(b.URL)
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	waitLoad()
	if l.servedBy(b.URL) == servedBefore {
		tb.Fatal("the backend served nothing after the old password was removed")
	}
	return rotationResult{requests: l.ok.Load() + l.failed.Load(), failed: l.failed.Load(), errs: l.firstErrs, duration: time.Since(start)}
}

func TestDatabasePasswordRotationFailsNoRequest(t *testing.T) {
	r := rotateDatabasePassword(t, 2)
	t.Logf("database password rotation: %d requests in %s, %d failed", r.requests, r.duration.Round(time.Millisecond), r.failed)
	if r.failed != 0 {
		t.Fatalf("%d of %d requests failed during the rotation, e.g. %v", r.failed, r.requests, r.errs)
	}
}

func TestRedisPasswordRotationFailsNoRequest(t *testing.T) {
	r := rotateRedisPassword(t, 2)
	t.Logf("Redis password rotation: %d requests in %s, %d failed", r.requests, r.duration.Round(time.Millisecond), r.failed)
	if r.failed != 0 {
		t.Fatalf("%d of %d requests failed during the rotation, e.g. %v", r.failed, r.requests, r.errs)
	}
}

// The same runs as numbers (hack/bench/rotation.sh).
func BenchmarkPasswordRotation(b *testing.B) {
	for _, c := range []struct {
		name string
		run  func(testing.TB, int) rotationResult
	}{{"database", rotateDatabasePassword}, {"redis", rotateRedisPassword}} {
		b.Run(c.name, func(b *testing.B) {
			var total rotationResult
			for range b.N {
				r := c.run(b, 4)
				total.requests += r.requests
				total.failed += r.failed
			}
			b.ReportMetric(float64(total.requests)/float64(b.N), "requests/rotation")
			b.ReportMetric(float64(total.failed)/float64(b.N), "failed/rotation")
		})
	}
}
