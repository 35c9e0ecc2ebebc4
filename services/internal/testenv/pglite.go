package testenv

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed pglite-server.mjs
var pgliteServer []byte

// PGliteTB runs PGlite (PostgreSQL in WebAssembly) with pgvector behind
// pglite-socket's wire-protocol server (pglite-server.mjs) on a free
// loopback port, for the pgvector tests (Debian's PostgreSQL has no
// pgvector), and returns a single-connection pool. The npm packages come
// from hack/install-deps.sh; the server stops at cleanup.
func PGliteTB(tb testing.TB, ctx context.Context) *pgxpool.Pool {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		node = "/usr/bin/node"
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "contract-lucidity", "pglite")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@electric-sql", "pglite-pgvector")); err != nil {
		tb.Fatalf("PGlite with pgvector is not installed in %s (run hack/install-deps.sh): %v", dir, err)
	}
	script := filepath.Join(tb.TempDir(), "pglite-server.mjs")
	if err := os.WriteFile(script, pgliteServer, 0o600); err != nil {
		tb.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(node, script, dir, fmt.Sprint(port))
	stdin, err := cmd.StdinPipe() // closing it (or our death) stops the server
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "LISTENING ") {
				ready <- nil
				for sc.Scan() {
				}
				return
			}
		}
		ready <- errors.New("pglite server exited before listening")
	}()
	select {
	case err := <-ready:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		tb.Fatal("pglite server did not start within 2 minutes")
	}
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 1 // PGlite is a single-connection database
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
