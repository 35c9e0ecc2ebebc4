package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis is a throwaway redis-server with a password and no persistence.
type Redis struct {
	Port     int
	Password string
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// RedisOptions adjust the server StartRedisWith starts.
type RedisOptions struct {
	// ACLFile makes the server read its users from this file (aclfile)
	// instead of a generated password (Password is then empty).
	ACLFile string
}

// StartRedis starts redis-server on a free loopback port.
func StartRedis() (*Redis, error) { return StartRedisWith(RedisOptions{}) }

// StartRedisWith is StartRedis with options.
func StartRedisWith(opts RedisOptions) (*Redis, error) {
	bin, err := lookPath("redis-server", "/usr/bin", "/usr/local/bin")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cl-redis-")
	if err != nil {
		return nil, err
	}
	r := &Redis{Password: randomHex(16), dir: dir}
	auth := []string{"--requirepass", r.Password}
	if opts.ACLFile != "" {
		r.Password = ""
		auth = []string{"--aclfile", opts.ACLFile}
	}
	for attempt := 0; attempt < 5; attempt++ {
		if r.Port, err = FreePort(); err != nil {
			return nil, err
		}
		logPath := filepath.Join(dir, "redis.log")
		r.exited = make(chan struct{})
		args := append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1"}, auth...)
		r.cmd = exec.Command(bin, append(args, "--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", logPath, "--daemonize", "no")...)
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := r.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); close(ch) }(r.cmd, r.exited)
		if err = waitTCP(r.Addr(), 10*time.Second, r.exited); err == nil {
			return r, nil
		}
		r.kill()
		err = fmt.Errorf("redis did not start: %v\n%s", err, logTail(logPath))
		if attempt == 4 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return nil, fmt.Errorf("unreachable")
}

// Addr is host:port.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// URL is a redis:// URL with the password, selecting database db (0-15).
func (r *Redis) URL(db int) string {
	return fmt.Sprintf("redis://:%s@%s/%d", r.Password, r.Addr(), db)
}

// Stop terminates the server and removes its directory.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	r.kill()
	os.RemoveAll(r.dir)
}

func (r *Redis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
}

// RedisTB starts a server for one test and stops it in Cleanup.
func RedisTB(tb testing.TB) *Redis {
	tb.Helper()
	r, err := StartRedis()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Stop)
	return r
}
