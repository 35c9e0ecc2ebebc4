package backend_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// processReplicas migrates a fresh database and starts two backend
// processes of the real binary on it, sharing Redis, the JWT key and
// storage as two pods of one instance do. It returns them as envs with a
// settled admin token.
func processReplicas(t *testing.T) (*env, *env) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "contract-lucidity")
	build := exec.Command("go", "build", "-o", bin, "../cmd/contract-lucidity")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the binary: %v\n%s", err, out)
	}
	dbURL := pg.NewDatabase(t)
	redisURL := rs.URL(int(redisDB.Add(1)) % 16)
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	vars := append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "STORAGE_PATH="+filepath.Join(dir, "storage"),
		"JWT_SECRET_KEY="+randHex(24), "ENCRYPTION_KEY="+randHex(32), "BCRYPT_COST=4", "LOG_LEVEL=warn",
		"INITIAL_ADMIN_EMAIL="+adminEmail, "INITIAL_ADMIN_PASSWORD="+adminPassword,
		"RATE_LIMIT_LOGIN_PER_MINUTE=1000", "RATE_LIMIT_API_PER_MINUTE=100000", "RATE_LIMIT_REFRESH_PER_MINUTE=1000")
	migrate := exec.Command(bin, "migrate")
	migrate.Env = vars
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var envs []*env
	for i := range 2 {
		port, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		metrics, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "backend")
		cmd.Env = append(vars, "BACKEND_ADDR=127.0.0.1:"+strconv.Itoa(port), "BACKEND_METRICS_ADDR=127.0.0.1:"+strconv.Itoa(metrics))
		logs := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			if t.Failed() {
				t.Logf("backend %d:\n%s", i, logs.String())
			}
		})
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		if err := waitReady(base+"/readyz", exited, 60*time.Second); err != nil {
			t.Fatalf("backend %d: %v\n%s", i, err, logs.String())
		}
		envs = append(envs, &env{t: t, http: &httptest.Server{URL: base}, logs: logs, rdb: rdb, db: pool})
	}
	a, b := envs[0], envs[1]
	tok := a.login(adminEmail, adminPassword)
	a.admin = a.do("POST", "/api/auth/change-password", tok.Access, map[string]string{
		"current_password": adminPassword, "new_password": newAdminPass}).want(200).str("access_token")
	b.admin = a.admin
	return a, b
}

// waitReady polls url until it answers 200, the process exits or timeout
// passes.
func waitReady(url string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("the process exited")
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s (last: %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
