package backend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var (
	pg      *testenv.Postgres
	rs      *testenv.Redis
	redisDB atomic.Int32
)

func TestMain(m *testing.M) {
	var err error
	if pg, err = testenv.StartPostgres(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if rs, err = testenv.StartRedis(); err != nil {
		pg.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	rs.Stop()
	pg.Stop()
	os.Exit(code)
}

const (
	adminEmail    = "admin@example.com"
	adminPassword = "Initial-Admin-Passw0rd"
	newAdminPass  = "Settled-Admin-Passw0rd!"
	userPassword  = "User-Passw0rd-Long!"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// env is one backend wired to a fresh database and Redis database.
type env struct {
	t     *testing.T
	cfg   *config.Config
	srv   *backend.Server
	http  *httptest.Server
	logs  *syncBuffer
	rdb   *redis.Client
	db    *pgxpool.Pool
	admin string // settled admin access token
}

func testConfig(t *testing.T) *config.Config {
	dbURL := pg.NewDatabase(t)
	n := int(redisDB.Add(1)) % 16
	key := make([]byte, 32)
	rand.Read(key)
	return &config.Config{
		Environment: "development", DatabaseURL: dbURL, RedisURL: rs.URL(n),
		JWTSecret: randHex(24), JWTAlgorithm: "HS256", AccessTokenTTL: 30 * time.Minute, RefreshTokenTTL: 7 * 24 * time.Hour,
		BcryptCost: 4, EncryptionKey: key, CORSOrigins: []string{"http://localhost:3000"},
		MaxUploadSizeMB: 5, StoragePath: t.TempDir(),
		RateLimitLoginPerMinute: 1000, RateLimitUploadPerMinute: 1000, RateLimitAPIPerMinute: 100000, RateLimitRefreshPerMinute: 1000,
		BackendAddr: "127.0.0.1:0", APIBaseURL: "http://localhost:8000", WorkerVisibilityTimeout: 5 * time.Minute,
		InitialAdminEmail: adminEmail, InitialAdminPassword: adminPassword,
		TrustedProxies: mustPrefixes("127.0.0.0/8", "::1/128"),
	}
}

func startServer(t *testing.T, cfg *config.Config) (*backend.Server, *httptest.Server, *syncBuffer) {
	return startServerWith(t, cfg, backend.Options{})
}

// startServerWith is startServer with options (the logger is the test's).
func startServerWith(t *testing.T, cfg *config.Config, opts backend.Options) (*backend.Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := migrateDatabase(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	opts.Logger = log
	srv, err := backend.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(contractHandler(t, srv.Handler()))
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs, logs
}

// migrateDatabase runs what `contract-lucidity migrate` runs (migrations
// and seed), as the operator's Job does before the backend starts.
func migrateDatabase(ctx context.Context, cfg *config.Config) error {
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = db.Setup(ctx, pool, cfg)
	return err
}

// newEnv starts a backend; mutate adjusts the configuration first. The
// admin's initial password is changed so env.admin is a usable token.
func newEnv(t *testing.T, mutate ...func(*config.Config)) *env {
	t.Helper()
	cfg := testConfig(t)
	for _, m := range mutate {
		m(cfg)
	}
	opt, _ := redis.ParseURL(cfg.RedisURL)
	rdb := redis.NewClient(opt)
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	srv, hs, logs := startServer(t, cfg)
	pool, err := pgxpool.New(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{t: t, cfg: cfg, srv: srv, http: hs, logs: logs, rdb: rdb, db: pool}
	tok := e.login(adminEmail, adminPassword)
	res := e.do("POST", "/api/auth/change-password", tok.Access, map[string]string{
		"current_password": adminPassword, "new_password": newAdminPass})
	res.want(200)
	e.admin = res.str("access_token")
	return e
}

type tokens struct {
	Access, Refresh string
	User            map[string]any
}

func (e *env) login(email, password string) tokens {
	e.t.Helper()
	r := e.do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password})
	r.want(200)
	return tokens{Access: r.str("access_token"), Refresh: r.str("refresh_token"), User: r.json["user"].(map[string]any)}
}

type response struct {
	t      *testing.T
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r *response) want(status int) *response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

func (r *response) str(key string) string {
	r.t.Helper()
	v, ok := r.json[key].(string)
	if !ok {
		r.t.Fatalf("no string %q in %s", key, r.body)
	}
	return v
}

func (r *response) items() []map[string]any {
	r.t.Helper()
	raw, ok := r.json["items"].([]any)
	if !ok {
		r.t.Fatalf("no items in %s", r.body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func (r *response) detail() string {
	d, _ := r.json["detail"].(string)
	return d
}

// metrics scrapes the backend's metrics listener (not the API port).
func (e *env) metrics() string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("metrics: status %d", rec.Code)
	}
	return rec.Body.String()
}

func (e *env) do(method, path, token string, body any, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		if _, ok := body.(io.Reader); !ok {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	client := e.http.Client()
	if client == nil { // a backend process (processReplicas), not an httptest.Server
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := &response{t: e.t, status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	return r
}

// createUser makes a user via the admin API and returns settled tokens.
func (e *env) createUser(email string) tokens {
	e.t.Helper()
	e.do("POST", "/api/users", e.admin, map[string]string{"email": email, "name": email, "role": "user", "password": userPassword}).want(201)
	tok := e.login(email, userPassword)
	r := e.do("POST", "/api/auth/change-password", tok.Access, map[string]string{"current_password": userPassword, "new_password": userPassword + "2"})
	r.want(200)
	return tokens{Access: r.str("access_token"), Refresh: r.str("refresh_token"), User: r.json["user"].(map[string]any)}
}

func (e *env) createProject(token, name string) string {
	e.t.Helper()
	return e.do("POST", "/api/projects", token, map[string]string{"name": name, "description": "test"}).want(201).str("id")
}

func (e *env) auditCount(eventType string) int {
	e.t.Helper()
	r := e.do("GET", "/api/admin/audit?event_type="+eventType+"&limit=500", e.admin, nil).want(200)
	return int(r.json["total"].(float64))
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func mustPrefixes(cidrs ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}
