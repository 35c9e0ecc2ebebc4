// Package demo runs `make demo` as a person would: in a terminal (a pseudo
// terminal from util-linux `script`), reads what it prints, and stops it with
// Ctrl-C typed at the keyboard.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run is one `make demo` in a pseudo terminal.
type run struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
}

func startDemo(t *testing.T, dataDir string) *run {
	t.Helper()
	// script -e returns the command's exit status; -q prints nothing of its own.
	cmd := exec.Command("script", "-qefc", "make --no-print-directory demo", "/dev/null")
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "CL_DEMO_DIR="+dataDir, "CL_DEMO_FOREGROUND=", "TERM=dumb")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &run{cmd: cmd, stdin: stdin, lines: make(chan string, 1000)}
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			r.mu.Lock()
			r.out.WriteString(line + "\n")
			r.mu.Unlock()
			r.lines <- line
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			r.stdin.Write([]byte{3})
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	return r
}

func (r *run) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// waitRunning reads until the demo says where to sign in and where the
// sample contracts are.
func (r *run) waitRunning(t *testing.T) {
	t.Helper()
	timeout := time.After(10 * time.Minute) // the first run builds the binary
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("demo ended before it was running:\n%s", r.output())
			}
			if strings.Contains(line, "Stop: Ctrl-C") {
				return
			}
		case <-timeout:
			t.Fatalf("demo not running after 10 minutes:\n%s", r.output())
		}
	}
}

// ctrlC types Ctrl-C and returns the exit status of `make demo`.
func (r *run) ctrlC(t *testing.T) int {
	t.Helper()
	if _, err := r.stdin.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		for range r.lines { // the reader has seen everything
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("demo still running 60 s after Ctrl-C:\n%s", r.output())
		return -1
	}
}

var (
	oneTime = regexp.MustCompile(`password\s+([0-9a-f]{18})\s+\(one-time`)
	pgPort  = regexp.MustCompile(`starting PostgreSQL on 127\.0\.0\.1:(\d+)`)
)

// The README's first command: the demo starts, shows the one-time password
// and where the sample contracts are, and Ctrl-C stops it with exit status 0
// and no error line from make. A later run shows the one-time password again
// while it is unused, and only after the admin chose a new one says so.
func TestMakeDemoShowsSamplesAndCtrlCStopsCleanly(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script (util-linux) is needed to give the demo a terminal: %v", err)
	}
	// PostgreSQL runs as the postgres user when the test runs as root: the
	// data directory's parents must let it through.
	base := t.TempDir()
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o711)
	}
	data := filepath.Join(base, "demo")

	first := startDemo(t, data)
	first.waitRunning(t)
	out := first.output()
	m := oneTime.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("first run shows no one-time password:\n%s", out)
	}
	password := m[1]
	samples := regexp.MustCompile(`Sample contracts to upload[^:]*: (\S+)`).FindStringSubmatch(out)
	if samples == nil {
		t.Fatalf("no sample contracts shown:\n%s", out)
	}
	pdfs, _ := filepath.Glob(filepath.Join(samples[1], "*.pdf"))
	if len(pdfs) < 10 || !strings.HasPrefix(samples[1], root(t)) {
		t.Fatalf("sample contracts at %s: %d PDFs (want the repository's testdata)", samples[1], len(pdfs))
	}
	if code := first.ctrlC(t); code != 0 {
		t.Fatalf("Ctrl-C: make demo exited %d:\n%s", code, first.output())
	}
	assertCleanStop(t, first.output())

	// Second run: the password was never changed, so it is still the one-time one.
	second := startDemo(t, data)
	second.waitRunning(t)
	out = second.output()
	if m := oneTime.FindStringSubmatch(out); m == nil || m[1] != password {
		t.Fatalf("second run, password unchanged: want the one-time password %s again:\n%s", password, out)
	}
	if strings.Contains(out, "password you chose") {
		t.Fatalf("second run claims a password was chosen:\n%s", out)
	}
	// The admin signs in and chooses a password (what the backend records).
	setPasswordChosen(t, data, pgPort.FindStringSubmatch(out))
	if code := second.ctrlC(t); code != 0 {
		t.Fatalf("Ctrl-C: make demo exited %d:\n%s", code, second.output())
	}
	assertCleanStop(t, second.output())

	third := startDemo(t, data)
	third.waitRunning(t)
	out = third.output()
	if oneTime.MatchString(out) || !strings.Contains(out, "password you chose") {
		t.Fatalf("third run, after the password was changed:\n%s", out)
	}
	if code := third.ctrlC(t); code != 0 {
		t.Fatalf("Ctrl-C: make demo exited %d:\n%s", code, third.output())
	}
}

func assertCleanStop(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "make: ***") || strings.Contains(out, "exited (status") {
		t.Fatalf("Ctrl-C is not a clean stop:\n%s", out)
	}
	if !strings.Contains(out, "stopped; data kept in") {
		t.Fatalf("no stop message:\n%s", out)
	}
}

func setPasswordChosen(t *testing.T, data string, port []string) {
	t.Helper()
	if port == nil {
		t.Fatal("PostgreSQL port not shown")
	}
	secrets, err := os.ReadFile(filepath.Join(data, "secrets.env"))
	if err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`(?m)^POSTGRES_PASSWORD=(\S+)$`).FindSubmatch(secrets)
	if pw == nil {
		t.Fatal("no POSTGRES_PASSWORD in secrets.env")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://cl:%s@127.0.0.1:%s/contract_lucidity?sslmode=disable", pw[1], port[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE users SET must_change_password = false WHERE email = 'admin@example.com'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("mark the password chosen: %v (%d rows)", err, tag.RowsAffected())
	}
}
