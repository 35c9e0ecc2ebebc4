package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL server in a temporary directory.
type Postgres struct {
	Port     int
	User     string
	Password string
	dir      string
	bin      string
	server   string // the postgres binary
	cred     *syscall.Credential
	cmd      *exec.Cmd
	exited   chan struct{}
}

// SocketDir is the directory of the server's Unix socket.
func (p *Postgres) SocketDir() string { return p.dir }

// BinDir holds the server's programs (psql, pg_dump, ...).
func (p *Postgres) BinDir() string { return p.bin }

var pgDirs = []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}

// PostgresOptions adjust the server StartPostgresWith starts.
type PostgresOptions struct {
	// Superuser is the bootstrap superuser's name (default "cl").
	Superuser string
	// LocalTrust lets Unix socket connections in without a password, as the
	// official postgres image does; TCP connections still need one.
	LocalTrust bool
}

// StartPostgres runs initdb into a temporary directory and starts postgres on
// a free loopback port. As root it runs the server as the "postgres" system
// user, since PostgreSQL refuses to run as root.
func StartPostgres() (*Postgres, error) { return StartPostgresWith(PostgresOptions{}) }

// StartPostgresWith is StartPostgres with options.
func StartPostgresWith(opts PostgresOptions) (*Postgres, error) {
	initdb, err := lookPath("initdb", pgDirs...)
	if err != nil {
		return nil, err
	}
	server, err := lookPath("postgres", filepath.Dir(initdb))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cl-pg-")
	if err != nil {
		return nil, err
	}
	if opts.Superuser == "" {
		opts.Superuser = "cl"
	}
	p := &Postgres{User: opts.Superuser, Password: randomHex(16), dir: dir, exited: make(chan struct{}), bin: filepath.Dir(initdb)}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(p.Password), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	auth := []string{"-A", "scram-sha-256"}
	if opts.LocalTrust {
		auth = []string{"--auth-local=trust", "--auth-host=scram-sha-256"}
	}
	init := exec.Command(initdb, append([]string{"-D", data, "-U", p.User, "--pwfile", pwfile,
		"-E", "UTF8", "--locale", "C", "--no-sync"}, auth...)...)
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	p.server, p.cred = server, cred
	for attempt := 0; attempt < 5; attempt++ {
		if p.Port, err = FreePort(); err != nil {
			return nil, err
		}
		if err = p.start(); err == nil {
			return p, nil
		}
		if attempt == 4 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return nil, fmt.Errorf("unreachable")
}

// start runs the server on p.Port over the data directory and waits until
// it accepts connections.
func (p *Postgres) start() error {
	logPath := filepath.Join(p.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if p.cred != nil {
		_ = os.Chown(logPath, int(p.cred.Uid), int(p.cred.Gid))
	}
	p.exited = make(chan struct{})
	p.cmd = exec.Command(p.server, "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.Port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); logf.Close(); close(ch) }(p.cmd, p.exited)
	if err := p.waitReady(30 * time.Second); err != nil {
		p.kill()
		return fmt.Errorf("postgres did not start: %v\n%s", err, logTail(logPath))
	}
	return nil
}

// Shutdown stops the server (fast shutdown: sessions are terminated) and
// keeps its data, so Restart can bring the same databases back: a database
// outage for tests.
func (p *Postgres) Shutdown() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.kill()
		}
	}
}

// Restart starts the server again after Shutdown, on the same port and
// data directory.
func (p *Postgres) Restart() error {
	select {
	case <-p.exited:
	default:
		return fmt.Errorf("postgres is still running")
	}
	return p.start()
}

// LogPath is the server's log file (all its output, across restarts).
func (p *Postgres) LogPath() string { return filepath.Join(p.dir, "postgres.log") }

func (p *Postgres) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("postgres exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// URL returns a connection URL for the named database.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Password, p.Port, db)
}

// CreateDatabase creates a fresh, empty database and returns its URL.
func (p *Postgres) CreateDatabase(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return p.URL(name), nil
}

// NewDatabase creates a uniquely named database for one test.
func (p *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	url, err := p.CreateDatabase("t_" + randomHex(6))
	if err != nil {
		tb.Fatal(err)
	}
	return url
}

// Stop shuts the server down and removes its directory.
func (p *Postgres) Stop() {
	if p == nil {
		return
	}
	p.Shutdown()
	os.RemoveAll(p.dir)
}

func (p *Postgres) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// PostgresTB starts a server for one test and stops it in Cleanup.
func PostgresTB(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := StartPostgres()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Stop)
	return p
}

// credential returns the postgres system user's credential when running as
// root (and hands dir to it), or nil otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a 'postgres' system user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
