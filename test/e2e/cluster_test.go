package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	return root
}

// startLocalCluster runs `hack/local-cluster.sh up` in a fresh work dir
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok with
// one fake node) and stops it when the test ends. The script's watchdog
// also stops it if this test binary dies without running its cleanups.
func startLocalCluster(t testing.TB) *rest.Config {
	t.Helper()
	root := repoRoot(t)
	script := filepath.Join(root, "hack", "local-cluster.sh")
	// A short path outside t.TempDir: the cluster is torn down by our own
	// cleanup (registered below), which must run before the dir is removed.
	dir, err := os.MkdirTemp("", "cl-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, script, args...)
		cmd.Env = append(os.Environ(), "LOCAL_CLUSTER_OWNER_PID="+strconv.Itoa(os.Getpid()))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String(), &scriptError{args: args, err: err, stderr: stderr.String()}
		}
		return stdout.String(), nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pids := recordedPIDs(dir)
		if _, err := run(ctx, "down", dir); err != nil {
			t.Errorf("local cluster down: %v", err)
		}
		for name, pid := range pids {
			if running(pid) {
				t.Errorf("local cluster down left %s (pid %d) running", name, pid)
			}
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("local cluster down left %s behind (stat: %v)", dir, err)
			_ = os.RemoveAll(dir)
		}
		// down is idempotent.
		if _, err := run(ctx, "down", dir); err != nil {
			t.Errorf("second local cluster down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := run(ctx, "up", dir)
	if err != nil {
		dumpLogs(t, dir)
		t.Fatalf("local cluster up: %v", err)
	}
	t.Logf("local cluster up in %s", time.Since(start).Round(time.Millisecond))
	want := "export KUBECONFIG=" + filepath.Join(dir, "kubeconfig")
	if strings.TrimSpace(out) != want {
		t.Fatalf("local cluster up printed %q, want %q", out, want)
	}
	// up is idempotent: a second run finds the cluster and changes nothing.
	out, err = run(ctx, "up", dir)
	if err != nil || strings.TrimSpace(out) != want {
		t.Fatalf("second local cluster up: %q, %v; want %q", out, err, want)
	}
	if _, err := run(ctx, "status", dir); err != nil {
		t.Fatalf("local cluster status after up: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	return cfg
}

// recordedPIDs reads the PIDs the script recorded in WORKDIR/pids.
func recordedPIDs(dir string) map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			out[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
		}
	}
	return out
}

// running reports whether pid is a live process (not a zombie waiting for
// its new parent to reap it).
func running(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(data), ") ")
	return ok && len(rest) > 0 && rest[0] != 'Z' && rest[0] != 'X'
}

type scriptError struct {
	args   []string
	err    error
	stderr string
}

func (e *scriptError) Error() string {
	return "hack/local-cluster.sh " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// dumpLogs prints the tail of each component's log to the test output.
func dumpLogs(t testing.TB, dir string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		t.Logf("---- %s (tail) ----\n%s", filepath.Base(l), data)
	}
}
