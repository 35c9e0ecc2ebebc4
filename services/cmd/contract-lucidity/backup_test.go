package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// run executes the built binary with env and returns stdout, stderr and the
// exit code.
func run(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// The backup and restore commands as the operator runs them (a CronJob,
// a Job): the real binary, configured from the environment, JSON on
// stdout, non-zero exit codes with a clear message on failure.
func TestBackupAndRestoreCommands(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "contract-lucidity")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pg := testenv.PostgresTB(t)
	srcURL, dstURL := pg.NewDatabase(t), pg.NewDatabase(t)
	srcStorage, dstStorage, backups := t.TempDir(), filepath.Join(t.TempDir(), "storage"), t.TempDir()
	base := []string{"PATH=" + os.Getenv("PATH"), "LOG_LEVEL=error", "BCRYPT_COST=4",
		"INITIAL_ADMIN_EMAIL=admin@example.com", "INITIAL_ADMIN_PASSWORD=Initial-Passw0rd-1"}
	srcEnv := append(base[:len(base):len(base)], "DATABASE_URL="+srcURL, "STORAGE_PATH="+srcStorage)
	dstEnv := append(base[:len(base):len(base)], "DATABASE_URL="+dstURL, "STORAGE_PATH="+dstStorage)

	if _, stderr, code := run(t, bin, srcEnv, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srcURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var project, doc string
	conn.QueryRow(ctx, `SELECT id FROM projects LIMIT 1`).Scan(&project)
	content := []byte("%PDF-1.4 a contract")
	if err := conn.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
		VALUES ($1, 'a.pdf', 'pdf', $2, encode(sha256($3), 'hex'), 'x') RETURNING id`, project, len(content), content).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	conn.Exec(ctx, `UPDATE documents SET storage_key = 'documents/' || id || '/original' WHERE id = $1`, doc)
	os.MkdirAll(filepath.Join(srcStorage, "documents", doc), 0o750)
	os.WriteFile(filepath.Join(srcStorage, "documents", doc, "original"), content, 0o640)

	stdout, stderr, code := run(t, bin, srcEnv, "backup", "create", "--to", "file://"+backups, "-o", "json")
	if code != 0 {
		t.Fatalf("backup create: exit %d\n%s", code, stderr)
	}
	var created struct {
		ID         string           `json:"id"`
		SizeBytes  int64            `json:"size_bytes"`
		StartedAt  time.Time        `json:"started_at"`
		FinishedAt time.Time        `json:"finished_at"`
		AppVersion string           `json:"app_version"`
		Migration  string           `json:"migration"`
		Rows       map[string]int64 `json:"rows"`
		Files      int              `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &created); err != nil {
		t.Fatalf("create -o json is not JSON: %v\n%s", err, stdout)
	}
	if created.ID == "" || created.SizeBytes <= 0 || created.StartedAt.IsZero() || created.FinishedAt.Before(created.StartedAt) ||
		created.AppVersion != "9.8.7" || created.Migration == "" || created.Rows["documents"] != 1 || created.Rows["users"] != 1 || created.Files != 1 {
		t.Fatalf("create -o json: %s", stdout)
	}

	stdout, _, code = run(t, bin, srcEnv, "backup", "list", "--from", backups)
	if code != 0 || !strings.Contains(stdout, created.ID) || !strings.Contains(stdout, "complete") || !strings.Contains(stdout, "9.8.7") {
		t.Fatalf("backup list: %d\n%s", code, stdout)
	}
	stdout, stderr, code = run(t, bin, srcEnv, "backup", "verify", created.ID, "--from", backups)
	if code != 0 || !strings.Contains(stdout, "intact") {
		t.Fatalf("backup verify: %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, code = run(t, bin, srcEnv, "backup", "prune", "--from", backups, "--keep", "1", "--keep-days", "0", "-o", "json")
	if code != 0 || !strings.Contains(stdout, `"deleted": []`) {
		t.Fatalf("prune of the only backup: %d\n%s", code, stdout)
	}
	if _, stderr, code = run(t, bin, srcEnv, "backup", "prune", "--from", backups, "--keep", "0"); code == 0 || !strings.Contains(stderr, "at least 1") {
		t.Fatalf("prune --keep 0: %d %s", code, stderr)
	}

	// Restore into a database that is not empty: refused, exit 1.
	if _, stderr, code = run(t, bin, srcEnv, "restore", "--from", backups, "--backup", created.ID); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("restore into the source: %d %s", code, stderr)
	}
	stdout, stderr, code = run(t, bin, dstEnv, "restore", "--from", backups, "--backup", created.ID)
	if code != 0 || !strings.Contains(stdout, "restored backup "+created.ID) {
		t.Fatalf("restore: %d\n%s%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dstStorage, "documents", doc, "original")); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("restored file: %q %v", b, err)
	}

	// A damaged archive: verify exits 1 and says so.
	archive := filepath.Join(backups, created.ID, "data.tar.gz")
	b, _ := os.ReadFile(archive)
	os.WriteFile(archive, b[:len(b)-20], 0o640)
	if _, stderr, code = run(t, bin, srcEnv, "backup", "verify", "--from", backups, created.ID); code != 1 || !strings.Contains(stderr, "corrupt") {
		t.Fatalf("verify of a truncated backup: %d %s", code, stderr)
	}
	if _, stderr, code = run(t, bin, srcEnv, "backup", "create"); code == 0 || !strings.Contains(stderr, "destination") {
		t.Fatalf("create without --to: %d %s", code, stderr)
	}
}

// What the operator reads from a backup Job's terminated pod: `backup
// create --termination-log` writes the outcome as one compact JSON object
// (with --keep/--keep-days, after pruning), and on failure the error, so a
// failed Job's reason reaches status.backup without reading logs.
func TestBackupCreateWritesItsOutcomeToTheTerminationLog(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "contract-lucidity")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pg := testenv.PostgresTB(t)
	url := pg.NewDatabase(t)
	storage, backups, dir := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "LOG_LEVEL=error", "BCRYPT_COST=4", "DATABASE_URL=" + url, "STORAGE_PATH=" + storage,
		"INITIAL_ADMIN_EMAIL=admin@example.com", "INITIAL_ADMIN_PASSWORD=Initial-Passw0rd-1"}
	if _, stderr, code := run(t, bin, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	type result struct {
		ID          string    `json:"id"`
		Destination string    `json:"destination"`
		SizeBytes   int64     `json:"size_bytes"`
		FinishedAt  time.Time `json:"finished_at"`
		AppVersion  string    `json:"app_version"`
		Pruned      []string  `json:"pruned"`
		PrunedCount int       `json:"pruned_count"`
		PruneError  string    `json:"prune_error"`
		Error       string    `json:"error"`
	}
	read := func(path string) result {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4096 {
			t.Fatalf("termination log has %d bytes, Kubernetes keeps 4096", len(b))
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("termination log is not JSON: %v\n%s", err, b)
		}
		return r
	}

	first := filepath.Join(dir, "first")
	if _, stderr, code := run(t, bin, env, "backup", "create", "--to", backups, "--termination-log", first); code != 0 {
		t.Fatalf("backup create: %d %s", code, stderr)
	}
	r1 := read(first)
	if r1.ID == "" || r1.SizeBytes <= 0 || r1.FinishedAt.IsZero() || r1.AppVersion != "9.8.7" || r1.Destination == "" || r1.Error != "" || len(r1.Pruned) != 0 {
		t.Fatalf("first result: %+v", r1)
	}
	// Backup ids have a one-second resolution.
	time.Sleep(1100 * time.Millisecond)
	second := filepath.Join(dir, "second")
	if _, stderr, code := run(t, bin, env, "backup", "create", "--to", backups, "--keep", "1", "--keep-days", "0",
		"--termination-log", second, "-o", "json"); code != 0 {
		t.Fatalf("backup create --keep 1: %d %s", code, stderr)
	}
	r2 := read(second)
	if r2.ID == "" || r2.ID == r1.ID || len(r2.Pruned) != 1 || r2.Pruned[0] != r1.ID || r2.PrunedCount != 1 || r2.PruneError != "" {
		t.Fatalf("second result (keep 1 prunes the first): %+v", r2)
	}
	if stdout, _, _ := run(t, bin, env, "backup", "list", "--from", backups); strings.Contains(stdout, r1.ID) || !strings.Contains(stdout, r2.ID) {
		t.Fatalf("after pruning:\n%s", stdout)
	}

	// Failures: the message is in the termination log, the exit code is 1,
	// and a bad retention is refused before anything is written.
	failed := filepath.Join(dir, "failed")
	bad := append(env[:len(env):len(env)], "DATABASE_URL=postgres://nobody:wrong@127.0.0.1:1/none?connect_timeout=1")
	if _, _, code := run(t, bin, bad, "backup", "create", "--to", backups, "--termination-log", failed); code != 1 {
		t.Fatalf("backup create against no database: exit %d", code)
	}
	if r := read(failed); r.Error == "" || r.ID != "" || strings.Contains(r.Error, "wrong") {
		t.Fatalf("failed result: %+v", r)
	}
	if _, stderr, code := run(t, bin, env, "backup", "create", "--to", backups, "--keep", "0", "--termination-log", failed); code != 1 ||
		!strings.Contains(stderr, "at least 1") || !strings.Contains(read(failed).Error, "at least 1") {
		t.Fatalf("--keep 0: %d %s", code, stderr)
	}
	if stdout, _, _ := run(t, bin, env, "backup", "list", "--from", backups, "-o", "json"); strings.Count(stdout, `"id"`) != 1 {
		t.Fatalf("a refused create wrote something:\n%s", stdout)
	}

	// restore writes its outcome too.
	restored := filepath.Join(dir, "restored")
	dst := pg.NewDatabase(t)
	renv := append(env[:len(env):len(env)], "DATABASE_URL="+dst, "STORAGE_PATH="+filepath.Join(t.TempDir(), "s"))
	if _, stderr, code := run(t, bin, renv, "restore", "--from", backups, "--backup", r2.ID, "--termination-log", restored); code != 0 {
		t.Fatalf("restore: %d %s", code, stderr)
	}
	b, _ := os.ReadFile(restored)
	if !strings.Contains(string(b), `"restored":"`+r2.ID+`"`) {
		t.Fatalf("restore termination log: %s", b)
	}
	if _, _, code := run(t, bin, renv, "restore", "--from", backups, "--backup", r2.ID, "--termination-log", restored); code != 1 {
		t.Fatalf("second restore into the same database: exit %d", code)
	}
	if b, _ := os.ReadFile(restored); !strings.Contains(string(b), `"error":"`) {
		t.Fatalf("failed restore termination log: %s", b)
	}
}
