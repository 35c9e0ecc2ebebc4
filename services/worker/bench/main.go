// Command worker benchmarks the document pipeline: whole-pipeline pages per
// second on CUAD PDFs (at least -pages pages) with 1, 2 and 4 real worker
// processes, with the documents in the filesystem and in S3 (a SeaweedFS
// server with server-side encryption), next to bare `pdftotext -layout` on
// the same files at the same parallelism in the same run, and the workers'
// peak RSS. It prints numbers; it asserts nothing.
//
//	go run ./services/worker/bench -bin bin/contract-lucidity [-pages 200] [-workers 1,2,4] [-storage filesystem,s3]
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/queue"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
	"github.com/contract-lucidity/contract-lucidity/services/worker/fixtures"
)

func main() {
	bin := flag.String("bin", "bin/contract-lucidity", "the contract-lucidity binary")
	pages := flag.Int("pages", 200, "CUAD PDFs are taken in name order until they have at least this many pages")
	workers := flag.String("workers", "1,2,4", "numbers of worker processes to run")
	stores := flag.String("storage", "filesystem,s3", "where the documents are: filesystem, s3 (SeaweedFS)")
	concurrency := flag.Int("concurrency", 1, "WORKER_CONCURRENCY of each worker process")
	rounds := flag.Int("rounds", 2, "runs of each configuration; the fastest counts (the machine may be shared)")
	flag.Parse()
	var counts []int
	for _, s := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -workers: %q is not a positive number\n", s)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if err := run(*bin, *pages, counts, strings.Split(*stores, ","), *concurrency, max(*rounds, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type env struct {
	bin         string
	pg          *testenv.Postgres
	rds         *testenv.Redis
	s3          *testenv.S3
	concurrency int
	warm        string
	files       []string // the longest first: the last to finish is a short one
	runs        int      // Redis database per run
}

func run(bin string, minPages int, counts []int, stores []string, concurrency, rounds int) error {
	pdfs, err := fixtures.CUADPDFs()
	if err != nil {
		return err
	}
	// The warm-up document is not among the measured ones.
	e := &env{bin: bin, concurrency: concurrency, warm: pdfs[len(pdfs)-1]}
	pages := 0
	count := map[string]int{}
	for _, f := range pdfs[:len(pdfs)-1] {
		if pages >= minPages {
			break
		}
		p, err := pdfPages(f)
		if err != nil {
			return err
		}
		pages += p
		count[f] = p
		e.files = append(e.files, f)
	}
	if pages < minPages {
		return fmt.Errorf("the CUAD PDFs have %d pages, fewer than -pages %d", pages, minPages)
	}
	sort.SliceStable(e.files, func(i, j int) bool { return count[e.files[i]] > count[e.files[j]] })
	if e.pg, err = testenv.StartPostgres(); err != nil {
		return err
	}
	defer e.pg.Stop()
	if e.rds, err = testenv.StartRedis(); err != nil {
		return err
	}
	defer e.rds.Stop()
	for _, s := range stores {
		switch s {
		case "filesystem":
		case "s3":
			if e.s3 == nil {
				if e.s3, err = testenv.StartS3With(testenv.S3Options{SSE: true}); err != nil {
					return err
				}
				defer e.s3.Stop()
			}
		default:
			return fmt.Errorf("-storage: unknown backend %q", s)
		}
	}

	fmt.Printf("corpus: %d CUAD PDFs, %d pages; WORKER_CONCURRENCY=%d per process; %d cores; best of %d rounds; load average %s\n\n",
		len(e.files), pages, concurrency, runtime.NumCPU(), rounds, loadAverage())
	fmt.Printf("%-36s %9s %9s %9s %11s %14s\n", "run", "seconds", "pages/s", "speed-up", "pages/CPU-s", "peak RSS MiB")
	base := map[int]time.Duration{}
	for _, c := range counts {
		var d time.Duration
		for range rounds {
			r, err := pdftotextRun(e.files, c*concurrency)
			if err != nil {
				return err
			}
			if d == 0 || r < d {
				d = r
			}
		}
		base[c] = d
		fmt.Printf("%-36s %9.2f %9.1f %9s %11s %14s\n", fmt.Sprintf("pdftotext -layout, %d parallel", c*concurrency), d.Seconds(),
			float64(pages)/d.Seconds(), fmt.Sprintf("%.2f", base[counts[0]].Seconds()/d.Seconds()), "", "")
	}
	for _, s := range stores {
		var first time.Duration
		for _, c := range counts {
			var dur time.Duration
			var cpu float64
			var rss []int
			for range rounds {
				d, u, r, err := e.pipelineRun(s, c)
				if err != nil {
					return fmt.Errorf("%s, %d workers: %w", s, c, err)
				}
				if dur == 0 || d < dur {
					dur, cpu, rss = d, u, r
				}
			}
			if first == 0 {
				first = dur
			}
			fmt.Printf("%-36s %9.2f %9.1f %9.2f %11.1f %14s\n", fmt.Sprintf("%s, %d worker processes", s, c), dur.Seconds(),
				float64(pages)/dur.Seconds(), first.Seconds()/dur.Seconds(), float64(pages)/cpu, rssList(rss))
		}
	}
	fmt.Println("\nspeed-up: against the first row of its group (linear would be the ratio of process counts, on enough cores)")
	fmt.Println("pages/CPU-s: pages per CPU second of the worker processes and the tools they ran (not PostgreSQL, Redis or the store);")
	fmt.Println("  steady as processes are added: the workers add no overhead, and pages/s is bounded by the free cores")
	fmt.Printf("load average at the end: %s\n", loadAverage())
	return nil
}

// loadAverage is the 1, 5 and 15 minute load average: other work on the
// machine skews the numbers.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func rssList(kib []int) string {
	var s []string
	for _, k := range kib {
		s = append(s, fmt.Sprintf("%.0f", float64(k)/1024))
	}
	return strings.Join(s, "/")
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pipelineRun stores the files in a fresh store (through the storage
// package, as the backend does) for a fresh database, starts `workers`
// worker processes, lets each process a warm-up document, then times the
// files from enqueue to complete. It returns the duration and each
// worker's peak RSS in KiB.
func (e *env) pipelineRun(backend string, workers int) (time.Duration, float64, []int, error) {
	ctx := context.Background()
	e.runs++
	dbURL, err := e.pg.CreateDatabase(fmt.Sprintf("bench_%s_%d_%s", backend, workers, randomHex(3)))
	if err != nil {
		return 0, 0, nil, err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return 0, 0, nil, err
	}
	defer pool.Close()
	if _, err := db.Migrate(ctx, pool); err != nil {
		return 0, 0, nil, err
	}
	dir, err := os.MkdirTemp("", "cl-bench-")
	if err != nil {
		return 0, 0, nil, err
	}
	defer os.RemoveAll(dir)
	redisURL := e.rds.URL(e.runs % 16)
	vars := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "WORKER_CONCURRENCY=" + strconv.Itoa(e.concurrency),
		"LOG_LEVEL=warn", "STORAGE_PATH=" + dir}
	var store storage.Store
	switch backend {
	case "filesystem":
		if store, err = storage.NewFilesystem(dir); err != nil {
			return 0, 0, nil, err
		}
	case "s3":
		cfg := config.S3{Endpoint: e.s3.Endpoint, Region: e.s3.Region, AccessKeyID: e.s3.AccessKey, SecretAccessKey: e.s3.SecretKey,
			PathStyle: true, PartSize: 8 << 20, Bucket: e.s3.Bucket, Prefix: "bench-" + randomHex(4) + "/", SSE: config.SSES3}
		if store, err = storage.OpenS3(ctx, cfg, storage.S3Options{}); err != nil {
			return 0, 0, nil, err
		}
		vars = append(vars, "STORAGE_BACKEND=s3", "STORAGE_S3_ENDPOINT=http://"+cfg.Endpoint, "STORAGE_S3_REGION="+cfg.Region,
			"STORAGE_S3_BUCKET="+cfg.Bucket, "STORAGE_S3_PREFIX="+cfg.Prefix, "STORAGE_S3_ACCESS_KEY_ID="+cfg.AccessKeyID,
			"STORAGE_S3_SECRET_ACCESS_KEY="+cfg.SecretAccessKey, "STORAGE_S3_FORCE_PATH_STYLE=true", "STORAGE_S3_SSE=s3")
	}
	var project string
	if err := pool.QueryRow(ctx, `INSERT INTO projects (name) VALUES ($1) RETURNING id`, "bench").Scan(&project); err != nil {
		return 0, 0, nil, err
	}
	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return 0, 0, nil, err
	}
	q := queue.New(rdb, queue.Options{})

	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
	}()
	for range workers {
		port, err := testenv.FreePort()
		if err != nil {
			return 0, 0, nil, err
		}
		cmd := exec.Command(e.bin, "worker")
		cmd.Env = append(os.Environ(), append(vars, "WORKER_METRICS_ADDR=127.0.0.1:"+strconv.Itoa(port))...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return 0, 0, nil, fmt.Errorf("start worker: %w", err)
		}
		cmds = append(cmds, cmd)
		if err := waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", port), 60*time.Second); err != nil {
			return 0, 0, nil, err
		}
	}
	add := func(path string) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		var id string
		if err := pool.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
			VALUES ($1, $2, 'pdf', $3, '', 'pending') RETURNING id`, project, filepath.Base(path), st.Size()).Scan(&id); err != nil {
			return "", err
		}
		key := storage.DocumentKey(id)
		if _, err := store.Put(ctx, key, io.TeeReader(f, h), st.Size()); err != nil {
			return "", err
		}
		_, err = pool.Exec(ctx, `UPDATE documents SET storage_key = $2, sha256 = $3 WHERE id = $1`, id, key, hex.EncodeToString(h.Sum(nil)))
		return id, err
	}
	// Warm-up: one document per process (each claims one at a time with
	// WORKER_CONCURRENCY=1; the others may take more than one).
	var warmIDs []string
	for range workers {
		id, err := add(e.warm)
		if err != nil {
			return 0, 0, nil, err
		}
		warmIDs = append(warmIDs, id)
	}
	for _, id := range warmIDs {
		if err := q.Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id}); err != nil {
			return 0, 0, nil, err
		}
	}
	if err := waitComplete(ctx, pool, warmIDs); err != nil {
		return 0, 0, nil, fmt.Errorf("warm-up: %w", err)
	}
	var ids []string
	for _, f := range e.files {
		id, err := add(f)
		if err != nil {
			return 0, 0, nil, err
		}
		ids = append(ids, id)
	}
	cpu0 := cpuSeconds(cmds)
	start := time.Now()
	for _, id := range ids {
		if err := q.Enqueue(ctx, queue.Job{Kind: queue.KindDocument, ID: id}); err != nil {
			return 0, 0, nil, err
		}
	}
	if err := waitComplete(ctx, pool, ids); err != nil {
		return 0, 0, nil, err
	}
	dur := time.Since(start)
	cpu := cpuSeconds(cmds) - cpu0
	var rss []int
	for _, c := range cmds {
		rss = append(rss, peakRSS(c.Process.Pid))
	}
	return dur, cpu, rss, nil
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
			var msg string
			_ = pool.QueryRow(ctx, `SELECT coalesce(error_message, '') FROM documents WHERE id = ANY($1::uuid[]) AND pipeline_status = 'failed' LIMIT 1`, ids).Scan(&msg)
			return fmt.Errorf("%d documents failed (%s)", failed, msg)
		}
		if done == len(ids) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("documents not complete in time")
}

// cpuSeconds is the CPU time of the processes and of their children
// that they waited for (pdftotext, tesseract), from /proc/<pid>/stat.
func cpuSeconds(cmds []*exec.Cmd) float64 {
	const hz = 100 // USER_HZ on Linux
	var ticks int64
	for _, c := range cmds {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces): utime,
		// stime, cutime and cstime are the 14th to 17th of the line.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / hz
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
