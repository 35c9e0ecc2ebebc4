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
