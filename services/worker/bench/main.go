// Command worker benchmarks the document pipeline: whole-pipeline pages per
// second on CUAD PDFs with the real worker binary at concurrency 1 and 2,
// next to bare `pdftotext -layout` on the same files in the same run, and
// the worker process's peak RSS. It prints numbers; it asserts nothing.
//
//	go run ./services/worker/bench -bin bin/contract-lucidity [-n 20]
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

func main() {
	bin := flag.String("bin", "bin/contract-lucidity", "the contract-lucidity binary")
	n := flag.Int("n", 20, "number of CUAD PDFs")
	flag.Parse()
	if err := run(*bin, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, n int) error {
	pdfs, err := fixtures.CUADPDFs()
	if err != nil {
		return err
	}
	// The warm-up document is not among the measured ones.
	if len(pdfs) < n+1 {
		n = len(pdfs) - 1
	}
	warm, files := pdfs[len(pdfs)-1], pdfs[:n]
	pg, err := testenv.StartPostgres()
	if err != nil {
		return err
	}
	defer pg.Stop()
	rds, err := testenv.StartRedis()
	if err != nil {
		return err
	}
	defer rds.Stop()

	pages := 0
	for _, f := range files {
		p, err := pdfPages(f)
		if err != nil {
			return err
		}
		pages += p
	}
	fmt.Printf("corpus: %d CUAD PDFs, %d pages\n\n", len(files), pages)
	fmt.Printf("%-34s %10s %10s %12s %14s\n", "run", "seconds", "pages/s", "ratio", "peak RSS MiB")
	for _, c := range []int{1, 2} {
		base, err := pdftotextRun(files, c)
		if err != nil {
			return err
		}
		fmt.Printf("%-34s %10.2f %10.1f %12s %14s\n", fmt.Sprintf("pdftotext -layout, %d parallel", c), base.Seconds(),
			float64(pages)/base.Seconds(), "", "")
		dur, rss, err := pipelineRun(bin, pg, rds, c, warm, files)
		if err != nil {
			return err
		}
		ratio := base.Seconds() / dur.Seconds()
		fmt.Printf("%-34s %10.2f %10.1f %12.2f %14.1f\n", fmt.Sprintf("worker pipeline, concurrency %d", c), dur.Seconds(),
			float64(pages)/dur.Seconds(), ratio, float64(rss)/1024)
	}
	fmt.Println("\nratio = pipeline pages/s divided by pdftotext pages/s at the same parallelism (goal >= 0.5)")
	return nil
}

func pdfPages(path string) (int, error) {
	out, err := exec.Command("pdfinfo", path).Output()
	if err != nil {
		return 0, fmt.Errorf("pdfinfo %s: %w", path, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("pdfinfo %s: no page count", path)
}

// pdftotextRun extracts every file with `parallel` processes at a time.
func pdftotextRun(files []string, parallel int) (time.Duration, error) {
	start := time.Now()
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := exec.Command("pdftotext", "-layout", f, os.DevNull).Run(); err != nil {
				mu.Lock()
				firstErr = fmt.Errorf("pdftotext %s: %w", f, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// pipelineRun starts a worker process with WORKER_CONCURRENCY=c on a fresh
// database, processes the warm-up document, then times files from enqueue
// to complete. It returns the duration and the worker's peak RSS in KiB.
func pipelineRun(bin string, pg *testenv.Postgres, rds *testenv.Redis, c int, warm string, files []string) (time.Duration, int, error) {
	ctx := context.Background()
	dbURL, err := pg.CreateDatabase(fmt.Sprintf("bench_c%d_%d", c, time.Now().UnixNano()))
	if err != nil {
		return 0, 0, err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	if _, err := db.Migrate(ctx, pool); err != nil {
		return 0, 0, err
	}
	storage, err := os.MkdirTemp("", "cl-bench-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(storage)
	var project string
	if err := pool.QueryRow(ctx, `INSERT INTO projects (name) VALUES ($1) RETURNING id`, "bench").Scan(&project); err != nil {
		return 0, 0, err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return 0, 0, err
	}
	redisURL := rds.URL(c)
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := queue.New(rdb, queue.Options{})
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "STORAGE_PATH="+storage,
		"WORKER_CONCURRENCY="+strconv.Itoa(c), "WORKER_METRICS_ADDR=127.0.0.1:"+strconv.Itoa(port), "LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start worker: %w", err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	if err := waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", port), 60*time.Second); err != nil {
		return 0, 0, err
	}
	add := func(path string) (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
			VALUES ($1, $2, 'pdf', $3, $4, 'pending') RETURNING id`, project, filepath.Base(path), len(data), hex.EncodeToString(sum[:])).Scan(&id); err != nil {
			return "", err
		}
		key := "documents/" + id + "/original"
		if err := os.MkdirAll(filepath.Join(storage, "documents", id), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(storage, key), data, 0o644); err != nil {
			return "", err
		}
		_, err = pool.Exec(ctx, `UPDATE documents SET storage_key = $2 WHERE id = $1`, id, key)
		return id, err
	}
	warmID, err := add(warm)
	if err != nil {
		return 0, 0, err
	}
	if err := q.Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: warmID}); err != nil {
		return 0, 0, err
	}
	if err := waitComplete(ctx, pool, []string{warmID}); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	var ids []string
	for _, f := range files {
		id, err := add(f)
		if err != nil {
			return 0, 0, err
		}
		ids = append(ids, id)
	}
	start := time.Now()
	for _, id := range ids {
		if err := q.Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id}); err != nil {
			return 0, 0, err
		}
	}
	if err := waitComplete(ctx, pool, ids); err != nil {
		return 0, 0, err
	}
	dur := time.Since(start)
	return dur, peakRSS(cmd.Process.Pid), nil
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, timeout)
}

func waitComplete(ctx context.Context, pool *pgxpool.Pool, ids []string) error {
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		var done, failed int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pipeline_status = 'complete'),
			count(*) FILTER (WHERE pipeline_status = 'failed') FROM documents WHERE id = ANY($1::uuid[])`, ids).Scan(&done, &failed); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d documents failed", failed)
		}
		if done == len(ids) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("documents not complete in time")
}

// peakRSS reads VmHWM (peak resident set) of a process, in KiB.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}
