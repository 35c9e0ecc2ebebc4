/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package rotationtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/controllers/sidecars"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// script runs one of the scripts with sh, as the container does.
type script struct {
	t    testing.TB
	path string
	env  []string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
}

func newScript(t testing.TB, body string, env ...string) *script {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(path, []byte(body), 0o555); err != nil {
		t.Fatal(err)
	}
	return &script{t: t, path: path, env: append(os.Environ(), env...)}
}

func (s *script) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *script) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// start runs "run" in the background until the test ends.
func (s *script) start() {
	s.t.Helper()
	s.cmd = exec.Command("sh", s.path, "run")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = s, s
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	})
}

// pause stops and resumes the loop (SIGSTOP/SIGCONT to its process group).
func (s *script) pause(stop bool) {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		s.t.Fatal(err)
	}
}

// check runs the readiness command.
func (s *script) check() error {
	c := exec.Command("sh", s.path, "check")
	c.Env = s.env
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("check: %v %s", err, out)
	}
	return nil
}

func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// random is 32 random bytes in hex.
func random(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeFile replaces a file atomically, as the kubelet does.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// pgLogin connects over TCP with a password, as the applications do, and
// returns the SQLSTATE of a refusal ("" when let in).
func pgLogin(t *testing.T, pg *testenv.Postgres, user, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", user, password, pg.Port)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return pe.Code
		}
		t.Fatalf("connect as %s: %v", user, err)
	}
	c.Close(ctx)
	return ""
}

func TestPostgresCredentialsFollowTheSecretFiles(t *testing.T) {
	pg, err := testenv.StartPostgresWith(testenv.PostgresOptions{Superuser: "postgres", LocalTrust: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	// As the init script does; and every statement logged, to see that
	// the passwords stay out of the log.
	for _, q := range []string{"CREATE ROLE contract_lucidity LOGIN PASSWORD 'initial-app-password'",
		"ALTER SYSTEM SET log_statement = 'all'", "SELECT pg_reload_conf()"} {
		if _, err := su.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	su.Close(ctx)
	if su, err = pgx.Connect(ctx, pg.URL("postgres")); err != nil {
		t.Fatal(err)
	}
	if _, err := su.Exec(ctx, "SELECT 'statements are logged'"); err != nil {
		t.Fatal(err)
	}
	su.Close(ctx)

	secret := t.TempDir()
	appPW, suPW := random(t), random(t)
	writeFile(t, filepath.Join(secret, "password"), appPW)
	writeFile(t, filepath.Join(secret, "superuser-password"), suPW)
	sc := newScript(t, sidecars.PostgresCredentials,
		"CREDENTIALS_DIR="+secret,
		"CREDENTIALS_STATE="+filepath.Join(t.TempDir(), "state", "applied"),
		"PGSOCKET_DIR="+pg.SocketDir(),
		fmt.Sprintf("PGPORT=%d", pg.Port),
		"CREDENTIALS_POLL_SECONDS=0.1",
		"PATH="+pg.BinDir()+":"+os.Getenv("PATH"),
	)
	if err := sc.check(); err == nil {
		t.Fatal("check succeeds before anything was applied")
	}
	sc.start()
	eventually(t, "first apply", sc.check)
	if code := pgLogin(t, pg, "contract_lucidity", appPW); code != "" {
		t.Fatalf("the application role refuses the Secret's password: %s\n%s", code, sc.output())
	}
	if code := pgLogin(t, pg, "contract_lucidity", "initial-app-password"); code != "28P01" {
		t.Errorf("the initial application password still works (%q)", code)
	}
	if code := pgLogin(t, pg, "postgres", suPW); code != "" {
		t.Fatalf("the superuser refuses the Secret's password: %s", code)
	}
	if code := pgLogin(t, pg, "postgres", pg.Password); code != "28P01" {
		t.Errorf("the initdb superuser password still works (%q)", code)
	}

	// The Secret changes (a rotation, or new values accepted after a
	// loss): until it is applied, check fails; then the servers follow.
	sc.pause(true)
	newApp, newSU := random(t), random(t)
	writeFile(t, filepath.Join(secret, "password"), newApp)
	writeFile(t, filepath.Join(secret, "superuser-password"), newSU)
	if err := sc.check(); err == nil {
		t.Error("check succeeds although the changed files were not applied")
	}
	sc.pause(false)
	eventually(t, "apply the changed files", sc.check)
	for _, c := range []struct{ user, pw, want string }{
		{"contract_lucidity", newApp, ""}, {"contract_lucidity", appPW, "28P01"},
		{"postgres", newSU, ""}, {"postgres", suPW, "28P01"},
	} {
		if got := pgLogin(t, pg, c.user, c.pw); got != c.want {
			t.Errorf("login %s with the %s password: %q, want %q", c.user, map[bool]string{true: "new", false: "old"}[c.want == ""], got, c.want)
		}
	}

	// A missing file: nothing is applied and check fails.
	if err := os.Remove(filepath.Join(secret, "password")); err != nil {
		t.Fatal(err)
	}
	if err := sc.check(); err == nil {
		t.Error("check succeeds with a file missing")
	}

	logged, err := os.ReadFile(pg.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{appPW, suPW, newApp, newSU} {
		if strings.Contains(string(logged), pw) || strings.Contains(sc.output(), pw) {
			t.Fatal("a password appears in the server log or in the script's output")
		}
	}
	if !strings.Contains(string(logged), "statements are logged") {
		t.Error("log_statement=all did not log; the test proves nothing about the log")
	}
	t.Logf("script output:\n%s", sc.output())
}

func aclFor(passwords ...string) string {
	var b strings.Builder
	b.WriteString("user default on")
	for _, p := range passwords {
		sum := sha256.Sum256([]byte(p))
		b.WriteString(" #" + hex.EncodeToString(sum[:]))
	}
	b.WriteString(" ~* &* +@all\n")
	return b.String()
}

func TestRedisACLReloadsWithoutDroppingClients(t *testing.T) {
	conf := t.TempDir()
	acl := filepath.Join(conf, "users.acl")
	old, next := random(t), random(t)
	writeFile(t, acl, aclFor(old))
	rd, err := testenv.StartRedisWith(testenv.RedisOptions{ACLFile: acl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Stop)
	secret := t.TempDir()
	writeFile(t, filepath.Join(secret, "password"), old)

	ctx := context.Background()
	// A client connected before the rotation, on one connection.
	held := redis.NewClient(&redis.Options{Addr: rd.Addr(), Password: old, PoolSize: 1, MaxRetries: -1})
	defer held.Close()
	if err := held.Set(ctx, "queued", "job", 0).Err(); err != nil {
		t.Fatal(err)
	}
	auth := func(pw string) error {
		c := redis.NewClient(&redis.Options{Addr: rd.Addr(), Password: pw, MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}

	sc := newScript(t, sidecars.RedisACL,
		"REDIS_ACL_FILE="+acl,
		"REDIS_SECRET_DIR="+secret,
		"ACL_STATE="+filepath.Join(t.TempDir(), "applied"),
		fmt.Sprintf("REDIS_PORT=%d", rd.Port),
		"ACL_POLL_SECONDS=0.1",
	)
	sc.start()
	eventually(t, "first load", sc.check)

	// Staged: both passwords valid on the server.
	sc.pause(true)
	writeFile(t, filepath.Join(secret, "fallback-password"), next)
	writeFile(t, acl, aclFor(old, next))
	if err := sc.check(); err == nil {
		t.Error("check succeeds before the changed file was loaded")
	}
	sc.pause(false)
	eventually(t, "load both passwords", sc.check)
	if err := auth(next); err != nil {
		t.Errorf("the new password is refused while staged: %v", err)
	}
	if err := auth(old); err != nil {
		t.Errorf("the old password is refused while staged: %v", err)
	}
	// Promoted: the Secret's current password is the new one.
	writeFile(t, filepath.Join(secret, "password"), next)
	writeFile(t, filepath.Join(secret, "fallback-password"), old)
	// Completing: only the new password.
	if err := os.Remove(filepath.Join(secret, "fallback-password")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, acl, aclFor(next))
	eventually(t, "load the new password only", sc.check)
	if err := auth(next); err != nil {
		t.Errorf("the new password is refused: %v", err)
	}
	if err := auth(old); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("the old password still works (%v)", err)
	}
	// The connection authenticated with the old password lives on, and the
	// data is there: Redis was not restarted.
	if v, err := held.Get(ctx, "queued").Result(); err != nil || v != "job" {
		t.Errorf("the client connected before the rotation: %q, %v", v, err)
	}
	if strings.Contains(sc.output(), old) || strings.Contains(sc.output(), next) {
		t.Error("a password appears in the script's output")
	}
	t.Logf("script output:\n%s", sc.output())
}
