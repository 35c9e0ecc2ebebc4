package backend_test

// Benchmarks (numbers, not assertions). Run with hack/bench/backend.sh or
//
//	go test ./services/backend -run '^$' -bench . -benchtime 1x
//
// BenchmarkDocumentPage: authenticated GET of a 50-document page through the
// real handler against real PostgreSQL and Redis, compared in the same run
// with its floor, the page query alone through pgx on the same database
// (rows scanned into the API's types), with the query plus the API's JSON
// encoding, with that behind a bare net/http handler (no authentication),
// and with a bare handler serving the JSON from memory (HTTP alone).
// BenchmarkUploadRSS: peak RSS growth of the real binary (a subprocess) while
// it receives a 100 MB upload into the filesystem and into S3 (SeaweedFS,
// server-side encryption required),
// from /proc/<pid>/status VmHWM after resetting
// the peak through /proc/<pid>/clear_refs.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var (
	benchDuration    = flag.Duration("bench-duration", 10*time.Second, "load duration per target (BenchmarkDocumentPage)")
	benchConcurrency = flag.Int("bench-concurrency", 8, "concurrent clients (BenchmarkDocumentPage)")
	benchUploadMB    = flag.Int("bench-upload-mb", 100, "upload size (BenchmarkUploadRSS)")
	benchStorage     = flag.String("bench-storage", "filesystem,s3", "storage backends to upload to (BenchmarkUploadRSS): filesystem, s3 (SeaweedFS)")
)

func BenchmarkDocumentPage(b *testing.B) {
	for range b.N {
		if err := benchPage(b, *benchDuration, *benchConcurrency); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUploadRSS(b *testing.B) {
	for _, backend := range strings.Split(*benchStorage, ",") {
		b.Run(backend, func(b *testing.B) {
			for range b.N {
				if err := benchUploadRSS(b, *benchUploadMB, backend); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const (
	benchAdmin = "bench-admin@example.com"
	benchPass  = "Bench-Admin-Passw0rd"
	benchNew   = "Bench-Admin-Passw0rd-2"
)

func baseConfig(dbURL, redisURL, storage string) *config.Config {
	key := make([]byte, 32)
	rand.Read(key)
	return &config.Config{
		Environment: "development", DatabaseURL: dbURL, RedisURL: redisURL, JWTSecret: randHex(24), JWTAlgorithm: "HS256",
		AccessTokenTTL: 30 * time.Minute, RefreshTokenTTL: 24 * time.Hour, BcryptCost: 4, EncryptionKey: key,
		CORSOrigins: []string{"http://localhost:3000"}, MaxUploadSizeMB: 200, StoragePath: storage,
		RateLimitLoginPerMinute: 1000, RateLimitUploadPerMinute: 1000, RateLimitAPIPerMinute: 100_000_000,
		BackendAddr: "127.0.0.1:0", WorkerVisibilityTimeout: 5 * time.Minute,
		InitialAdminEmail: benchAdmin, InitialAdminPassword: benchPass,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}
}

func postJSON(url, token string, body any) (map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, raw)
	}
	_ = json.Unmarshal(raw, &out)
	return out, nil
}

// settle logs the seeded admin in, changes the password and returns a token.
func settle(base string) (string, error) {
	tok, err := postJSON(base+"/api/auth/login", "", map[string]string{"email": benchAdmin, "password": benchPass})
	if err != nil {
		return "", err
	}
	out, err := postJSON(base+"/api/auth/change-password", tok["access_token"].(string),
		map[string]string{"current_password": benchPass, "new_password": benchNew})
	if err != nil {
		return "", err
	}
	return out["access_token"].(string), nil
}

func benchPage(b *testing.B, duration time.Duration, concurrency int) error {
	ctx := context.Background()
	dbURL, err := pg.CreateDatabase("bench_page_" + randHex(4))
	if err != nil {
		return err
	}
	storage, _ := os.MkdirTemp("", "cl-bench-")
	defer os.RemoveAll(storage)
	cfg := baseConfig(dbURL, rs.URL(1), storage)
	if err := migrateDatabase(ctx, cfg); err != nil {
		return err
	}
	srv, err := backend.New(ctx, cfg, backend.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer srv.Close()
	api := httptest.NewServer(srv.Handler())
	defer api.Close()
	token, err := settle(api.URL)
	if err != nil {
		return err
	}
	proj, err := postJSON(api.URL+"/api/projects", token, map[string]string{"name": "Bench"})
	if err != nil {
		return err
	}
	pid := proj["id"].(string)
	pool, err := db.Open(ctx, cfg) // configured as the backend's
	if err != nil {
		return err
	}
	defer pool.Close()
	// 200 documents with 20 clauses each; the page shows 50 of them.
	if _, err := pool.Exec(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key,
		pipeline_status, progress, facts, page_count, analyzer)
		SELECT $1, 'contract-' || g || '.pdf', 'pdf', 100000 + g, md5(g::text) || md5(g::text), 'documents/x/original',
		'complete', 100, '{"parties":["Acme Corp","Beta LLC"],"governing_law":"Delaware"}', 12, 'offline/v1'
		FROM generate_series(1, 200) g`, pid); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO clauses (document_id, ordinal, category, text, risk_level)
		SELECT d.id, g, 'Other', 'Clause text ' || g, 'low' FROM documents d, generate_series(1, 20) g ORDER BY d.id, g`); err != nil {
		return err
	}
	// What autovacuum would have done by now on a real system.
	for _, table := range []string{"documents", "clauses", "users", "project_members"} {
		if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			return err
		}
	}
	path := "/api/projects/" + pid + "/documents?limit=50&offset=0"
	body, err := fetch(api.URL+path, token)
	if err != nil {
		return err
	}
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer bare.Close()
	// The floor: the page query alone through pgx on the same database, at
	// the same concurrency, its rows scanned as the API does (no HTTP);
	// then with the API's JSON encoding, and that over net/http without
	// authentication.
	var uid string
	if err := pool.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, benchAdmin).Scan(&uid); err != nil {
		return err
	}
	query := func(ctx context.Context) ([]byte, error) { return pageQuery(ctx, pool, pid, uid) }
	queryHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := query(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	defer queryHTTP.Close()
	if qb, err := query(ctx); err != nil || len(qb) != len(body) {
		return fmt.Errorf("floor query: %d bytes (API %d): %v", len(qb), len(body), err)
	}
	rowsOnly := context.WithValue(ctx, noJSON{}, true)
	targets := []struct {
		name string
		do   func(*http.Client) error
		res  result
	}{
		{name: "page query (pgx)", do: func(*http.Client) error { _, err := pageQuery(rowsOnly, pool, pid, uid); return err }},
		{name: "query + JSON (pgx)", do: func(*http.Client) error { _, err := query(ctx); return err }},
		{name: "query + JSON over HTTP", do: httpGet(queryHTTP.URL+path, token)},
		{name: "bare handler (memory)", do: httpGet(bare.URL+path, token)},
		{name: "backend", do: httpGet(api.URL+path, token)},
	}
	fmt.Printf("page: %d bytes JSON, 50 of 200 documents, %d clients, %s per target in alternating 1 s slices\n", len(body), concurrency, duration)
	for _, t := range targets { // warm up
		load(t.do, 500*time.Millisecond, concurrency)
	}
	// Alternate one-second slices so every target sees the same background
	// load (this machine is shared), then merge the samples.
	for range max(1, int(duration/time.Second)) {
		for i := range targets {
			targets[i].res.merge(load(targets[i].do, time.Second, concurrency))
		}
	}
	for i := range targets {
		r := &targets[i].res
		r.finish()
		fmt.Printf("%-23s: %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n", targets[i].name, r.rps, ms(r.p50), ms(r.p99), r.errors)
	}
	q, qj, qh, bb, a := targets[0].res, targets[1].res, targets[2].res, targets[3].res, targets[4].res
	fmt.Printf("backend / page query: %.2f (goal >= 0.8); / query + JSON: %.2f; / query + JSON over HTTP: %.2f\n",
		a.rps/q.rps, a.rps/qj.rps, a.rps/qh.rps)
	// What HTTP alone allows: the query's cost plus a bare round trip.
	fmt.Printf("HTTP alone caps it at %.2f (page query) and %.2f (query + JSON): 1 / (1 + query rate / bare rate)\n",
		1/(1+q.rps/bb.rps), 1/(1+qj.rps/bb.rps))
	b.ReportMetric(a.rps, "backend-req/s")
	b.ReportMetric(q.rps, "query-req/s")
	b.ReportMetric(qj.rps, "query-json-req/s")
	b.ReportMetric(qh.rps, "query-http-req/s")
	b.ReportMetric(bb.rps, "bare-req/s")
	b.ReportMetric(ms(a.p99), "backend-p99-ms")
	b.ReportMetric(a.rps/q.rps, "ratio")
	b.ReportMetric(a.rps/qj.rps, "ratio-json")
	b.ReportMetric(a.rps/qh.rps, "ratio-http")
	return nil
}

// pageQuery is the documents page of the API (handleListDocuments) without
// the API: the same SQL, scanned and (unless ctx has noJSON) encoded the
// same way.
func pageQuery(ctx context.Context, pool *pgxpool.Pool, projectID, userID string) ([]byte, error) {
	rows, err := pool.Query(ctx, `SELECT d.id, d.project_id, d.original_name, d.file_type, d.size_bytes, d.sha256, d.pipeline_status,
	d.progress, d.error_message, d.facts, d.page_count,
	d.clause_count, d.tokens_used, d.analyzer, d.uploaded_by,
	d.created_at, d.completed_at, (SELECT count(*) FROM documents WHERE project_id = $1)
		FROM documents d WHERE d.project_id = $1
		AND ($4 OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = $1 AND pm.user_id = $5))
		ORDER BY d.created_at DESC, d.id LIMIT $2 OFFSET $3`, projectID, 50, 0, true, userID)
	if err != nil {
		return nil, err
	}
	type doc struct {
		ID             string          `json:"id"`
		ProjectID      string          `json:"project_id"`
		OriginalName   string          `json:"original_name"`
		FileType       string          `json:"file_type"`
		SizeBytes      int64           `json:"size_bytes"`
		SHA256         string          `json:"sha256"`
		PipelineStatus string          `json:"pipeline_status"`
		Progress       int             `json:"progress"`
		ErrorMessage   *string         `json:"error_message"`
		Facts          json.RawMessage `json:"facts"`
		PageCount      *int            `json:"page_count"`
		ClauseCount    int64           `json:"clause_count"`
		TokensUsed     int             `json:"tokens_used"`
		Analyzer       string          `json:"analyzer"`
		UploadedBy     *string         `json:"uploaded_by"`
		CreatedAt      time.Time       `json:"created_at"`
		CompletedAt    *time.Time      `json:"completed_at"`
	}
	var total int64
	items := []doc{}
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.ID, &d.ProjectID, &d.OriginalName, &d.FileType, &d.SizeBytes, &d.SHA256, &d.PipelineStatus,
			&d.Progress, &d.ErrorMessage, (*[]byte)(&d.Facts), &d.PageCount, &d.ClauseCount, &d.TokensUsed, &d.Analyzer, &d.UploadedBy,
			&d.CreatedAt, &d.CompletedAt, &total); err != nil {
			rows.Close()
			return nil, err
		}
		items = append(items, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if ctx.Value(noJSON{}) != nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	err = enc.Encode(struct {
		Items []doc `json:"items"`
		Total int64 `json:"total"`
	}{items, total})
	return buf.Bytes(), err
}

func httpGet(url, token string) func(*http.Client) error {
	return func(client *http.Client) error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
		}
		return nil
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fetch(url, token string) ([]byte, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, err
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	lat      []time.Duration
	elapsed  time.Duration
}

func (r *result) merge(o result) {
	r.lat = append(r.lat, o.lat...)
	r.elapsed += o.elapsed
	r.errors += o.errors
}

func (r *result) finish() {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	r.rps = float64(len(r.lat)) / r.elapsed.Seconds()
	if len(r.lat) > 0 {
		r.p50 = r.lat[len(r.lat)/2]
		r.p99 = r.lat[len(r.lat)*99/100]
	}
}

func load(do func(*http.Client) error, d time.Duration, concurrency int) result {
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency * 2}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := do(client); err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := result{lat: lat, elapsed: time.Since(start), errors: errs}
	r.finish()
	return r
}

// benchUploadRSS runs the real binary and measures its peak RSS growth
// while it receives one upload of sizeMB into storage (filesystem or s3).
func benchUploadRSS(b *testing.B, sizeMB int, storage string) error {
	dbURL, err := pg.CreateDatabase("bench_upload_" + randHex(4))
	if err != nil {
		return err
	}
	dir, _ := os.MkdirTemp("", "cl-bench-up-")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "contract-lucidity")
	build := exec.Command("go", "build", "-o", bin, "../cmd/contract-lucidity")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build binary: %w", err)
	}
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	metricsPort, err := testenv.FreePort()
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(), "BACKEND_METRICS_ADDR="+fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"DATABASE_URL="+dbURL, "REDIS_URL="+rs.URL(2), "STORAGE_PATH="+filepath.Join(dir, "storage"),
		"BACKEND_ADDR="+fmt.Sprintf("127.0.0.1:%d", port), "BCRYPT_COST=4", "LOG_LEVEL=warn",
		"MAX_UPLOAD_SIZE_MB="+strconv.Itoa(sizeMB+10), "INITIAL_ADMIN_EMAIL="+benchAdmin, "INITIAL_ADMIN_PASSWORD="+benchPass,
		"JWT_SECRET_KEY="+randHex(24), "ENCRYPTION_KEY="+randHex(32))
	switch storage {
	case "filesystem":
	case "s3":
		s3, err := testenv.StartS3With(testenv.S3Options{SSE: true})
		if err != nil {
			return err
		}
		defer s3.Stop()
		env = append(env, "STORAGE_BACKEND=s3", "STORAGE_S3_ENDPOINT=http://"+s3.Endpoint, "STORAGE_S3_BUCKET="+s3.Bucket,
			"STORAGE_S3_ACCESS_KEY_ID="+s3.AccessKey, "STORAGE_S3_SECRET_ACCESS_KEY="+s3.SecretKey, "STORAGE_S3_FORCE_PATH_STYLE=true",
			"STORAGE_S3_SSE=s3")
	default:
		return fmt.Errorf("-bench-storage: unknown backend %q", storage)
	}
	migrate := exec.Command(bin, "migrate")
	migrate.Env, migrate.Stderr = env, os.Stderr
	if err := migrate.Run(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	cmd := exec.Command(bin, "backend")
	cmd.Env = env
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("backend did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}
	token, err := settle(base)
	if err != nil {
		return err
	}
	proj, err := postJSON(base+"/api/projects", token, map[string]string{"name": "Upload bench"})
	if err != nil {
		return err
	}
	pid := cmd.Process.Pid
	// Warm up with a small upload, then reset the peak.
	if err := streamUpload(base, token, proj["id"].(string), 1); err != nil {
		return err
	}
	before := status(pid, "VmRSS")
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset VmHWM: %w", err)
	}
	start := time.Now()
	if err := streamUpload(base, token, proj["id"].(string), sizeMB); err != nil {
		return err
	}
	took := time.Since(start)
	peak := status(pid, "VmHWM")
	fmt.Printf("upload %d MB to %s: %.1f s (%.0f MB/s); backend RSS before %.1f MiB, peak during upload %.1f MiB, growth %.1f MiB (goal < 32 MiB)\n",
		sizeMB, storage, took.Seconds(), float64(sizeMB)/took.Seconds(), kib(before), kib(peak), kib(peak-before))
	b.ReportMetric(kib(peak-before), "rss-growth-MiB")
	b.ReportMetric(float64(sizeMB)/took.Seconds(), "MB/s")
	return nil
}

func kib(v int64) float64 { return float64(v) / 1024 }

// status reads a kB field of /proc/<pid>/status.
func status(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// streamUpload sends a PDF of sizeMB generated on the fly (chunked).
func streamUpload(base, token, projectID string, sizeMB int) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("project_id", projectID)
		fw, _ := mw.CreateFormFile("file", "big.pdf")
		fw.Write([]byte("%PDF-1.4\n"))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
		total := sizeMB<<20 - 9
		for total > 0 {
			n := min(total, len(chunk))
			if _, err := fw.Write(chunk[:n]); err != nil {
				pw.CloseWithError(err)
				return
			}
			total -= n
		}
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", base+"/api/documents", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("upload: %d %s", resp.StatusCode, b)
	}
	return nil
}

// noJSON in a context makes pageQuery stop after scanning the rows.
type noJSON struct{}
