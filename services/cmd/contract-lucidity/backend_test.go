package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// TestMigrateThenBackendSubcommands runs the two subcommands as the operator
// does: migrate (exits), then backend until it is signalled.
func TestMigrateThenBackendSubcommands(t *testing.T) {
	pg := testenv.PostgresTB(t)
	rd := testenv.RedisTB(t)
	dbURL := pg.NewDatabase(t)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metricsPort, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"ENVIRONMENT": "development", "DATABASE_URL": dbURL, "REDIS_URL": rd.URL(0), "STORAGE_PATH": t.TempDir(),
		"BACKEND_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "BACKEND_METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"BCRYPT_COST": "4", "LOG_LEVEL": "error",
		"INITIAL_ADMIN_EMAIL": "admin@example.com", "INITIAL_ADMIN_PASSWORD": "Initial-Passw0rd-1",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runMigrate(ctx, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var migrations, admins int
	conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&migrations)
	conn.QueryRow(ctx, "SELECT count(*) FROM users WHERE role = 'admin' AND must_change_password").Scan(&admins)
	if migrations < 2 || admins != 1 {
		t.Fatalf("after migrate: %d migrations, %d admins", migrations, admins)
	}

	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runBackend(srvCtx, nil) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ready := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && !ready; {
		select {
		case err := <-done:
			t.Fatalf("backend exited early: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
		if !ready {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ready {
		t.Fatal("backend never became ready")
	}
	resp, err := http.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"admin@example.com","password":"Initial-Passw0rd-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// Metrics are served on their own listener only (the NetworkPolicy
	// opens that port to monitoring alone), never on the API port.
	if code, _ := get(t, base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the API port: %d, want 404", code)
	}
	code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if code != http.StatusOK || !strings.Contains(body, `cl_http_requests_total{code="200",method="POST",route="/api/auth/login"}`) {
		t.Errorf("GET /metrics on BACKEND_METRICS_ADDR: %d\n%.500s", code, body)
	}
	stop() // SIGTERM
	if err := <-done; err != nil {
		t.Fatalf("backend shutdown: %v", err)
	}
}

func TestBackendRefusesUnsafeProductionConfig(t *testing.T) {
	t.Setenv("ENVIRONMENT", "production")
	t.Setenv("DATABASE_URL", "postgres://cl:Xk3vP9qLm2Wz@127.0.0.1:1/cl")
	t.Setenv("REDIS_URL", "redis://:Rq8mN2xV5tYb@127.0.0.1:1/0")
	t.Setenv("JWT_SECRET_KEY", "changeme")
	err := runBackend(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET_KEY") {
		t.Fatalf("got %v", err)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Only migrate changes the schema: backend and worker refuse a database
// that is not migrated, and every command refuses one migrated by a newer
// version, naming the migration.
func TestServicesRefuseDatabaseNotMatchingTheirMigrations(t *testing.T) {
	pg := testenv.PostgresTB(t)
	rd := testenv.RedisTB(t)
	dbURL := pg.NewDatabase(t)
	for k, v := range map[string]string{
		"ENVIRONMENT": "development", "DATABASE_URL": dbURL, "REDIS_URL": rd.URL(0), "STORAGE_PATH": t.TempDir(),
		"BACKEND_ADDR": "127.0.0.1:0", "WORKER_METRICS_ADDR": "", "BCRYPT_COST": "4", "LOG_LEVEL": "error",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, run := range map[string]func(context.Context, []string) error{"backend": runBackend, "worker": runWorker} {
		if err := run(ctx, nil); err == nil || !strings.Contains(err.Error(), `"contract-lucidity migrate"`) {
			t.Fatalf("%s on an empty database: %v, want a refusal telling to run migrate", name, err)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("backend or worker created %d tables (%v)", tables, err)
	}
	if err := runMigrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (name, checksum) VALUES ('9999_newer', 'x')`); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context, []string) error{"backend": runBackend, "worker": runWorker, "migrate": runMigrate} {
		if err := run(ctx, nil); err == nil || !strings.Contains(err.Error(), "9999_newer") || !strings.Contains(err.Error(), "newer version") {
			t.Fatalf("%s on a database of a newer version: %v", name, err)
		}
	}
}

// As the operator runs them: the migrate Job gets the ConfigMap
// (INITIAL_ADMIN_EMAIL) but not the admin password Secret, the backend gets
// both and creates the admin at its first start, without any DDL.
func TestMigrateJobWithoutAdminPasswordThenBackendCreatesTheAdmin(t *testing.T) {
	pg := testenv.PostgresTB(t)
	rd := testenv.RedisTB(t)
	dbURL := pg.NewDatabase(t)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"ENVIRONMENT": "development", "DATABASE_URL": dbURL, "STORAGE_PATH": t.TempDir(),
		"BACKEND_ADDR": fmt.Sprintf("127.0.0.1:%d", port), "BCRYPT_COST": "4", "LOG_LEVEL": "error",
		"INITIAL_ADMIN_EMAIL": "admin@example.com",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runMigrate(ctx, nil); err != nil {
		t.Fatalf("migrate as the operator's Job runs it: %v", err)
	}
	t.Setenv("REDIS_URL", rd.URL(0))
	t.Setenv("INITIAL_ADMIN_PASSWORD", "Initial-Passw0rd-1")
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runBackend(srvCtx, nil) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitOK(t, base+"/readyz", done)
	resp, err := http.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(`{"email":"admin@example.com","password":"Initial-Passw0rd-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login of the initial admin: %d", resp.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("backend shutdown: %v", err)
	}
}

// TestServicesRefuseProductionWithoutHTTPSAPIBaseURL: each service binary
// refuses to start, naming API_BASE_URL, when it is missing or http.
func TestServicesRefuseProductionWithoutHTTPSAPIBaseURL(t *testing.T) {
	for name, run := range map[string]func(context.Context, []string) error{
		"backend": runBackend, "worker": runWorker, "frontend": runFrontend,
	} {
		for _, api := range []string{"", "http://contracts.example.com"} {
			t.Run(name+" "+api, func(t *testing.T) {
				for k, v := range map[string]string{
					"ENVIRONMENT": "production", "API_BASE_URL": api, "CORS_ORIGINS": "https://contracts.example.com",
					"DATABASE_URL":   "postgres://cl:Xk3vP9qLm2Wz@127.0.0.1:1/cl",
					"REDIS_URL":      "redis://:Rq8mN2xV5tYb@127.0.0.1:1/0",
					"JWT_SECRET_KEY": "k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a",
					"ENCRYPTION_KEY": "5f2b9c7e1a3d4f6081726354a9b8c7d6e5f4031201fedcba9876543210abcdef",
				} {
					t.Setenv(k, v)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := run(ctx, nil)
				if err == nil || !strings.Contains(err.Error(), "API_BASE_URL") {
					t.Fatalf("got %v", err)
				}
			})
		}
	}
}
