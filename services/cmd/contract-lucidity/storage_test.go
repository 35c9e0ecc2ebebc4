package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// `storage migrate --to s3` as an operator runs it: every file of the
// volume ends up in the bucket, verified; a second run copies nothing; a
// missing volume is refused rather than migrated as empty.
func TestStorageMigrateCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "contract-lucidity")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	pg := testenv.PostgresTB(t)
	s3 := testenv.S3TB(t)
	url := pg.NewDatabase(t)
	root := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "LOG_LEVEL=error", "DATABASE_URL=" + url, "STORAGE_PATH=" + root,
		"STORAGE_S3_ENDPOINT=http://" + s3.Endpoint, "STORAGE_S3_BUCKET=" + s3.Bucket, "STORAGE_S3_PREFIX=cl/prod",
		"STORAGE_S3_ACCESS_KEY_ID=" + s3.AccessKey, "STORAGE_S3_SECRET_ACCESS_KEY=" + s3.SecretKey, "STORAGE_S3_FORCE_PATH_STYLE=true"}
	if _, stderr, code := run(t, bin, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, stderr)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var project string
	if err := conn.QueryRow(ctx, `INSERT INTO projects (name) VALUES ('Migrated') RETURNING id`).Scan(&project); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, content := range []string{"%PDF-1.4 first contract", "%PDF-1.4 second contract"} {
		var id string
		if err := conn.QueryRow(ctx, `INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
			VALUES ($1, 'a.pdf', 'pdf', $2, encode(sha256($3), 'hex'), 'x') RETURNING id`, project, len(content), []byte(content)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		key := "documents/" + id + "/original"
		conn.Exec(ctx, `UPDATE documents SET storage_key = $2 WHERE id = $1`, id, key)
		os.MkdirAll(filepath.Join(root, "documents", id), 0o750)
		os.WriteFile(filepath.Join(root, key), []byte(content), 0o640)
		files[key] = content
	}

	type result struct {
		Files, Copied, Present int
		Missing                []string
	}
	for i, want := range []result{{Files: 2, Copied: 2}, {Files: 2, Present: 2}} {
		stdout, stderr, code := run(t, bin, env, "storage", "migrate", "--to", "s3", "-o", "json")
		var got result
		if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || got.Files != want.Files || got.Copied != want.Copied ||
			got.Present != want.Present || len(got.Missing) != 0 {
			t.Fatalf("run %d: exit %d, %+v\n%s\n%s", i+1, code, got, stdout, stderr)
		}
	}
	client, _ := s3.Client()
	for key, content := range files {
		obj, err := client.GetObject(ctx, s3.Bucket, "cl/prod/"+key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 100)
		n, _ := obj.Read(b)
		obj.Close()
		if string(b[:n]) != content {
			t.Fatalf("%s in the bucket: %q", key, b[:n])
		}
	}

	unmounted := append(env[:len(env):len(env)], "STORAGE_PATH="+filepath.Join(root, "not-mounted"))
	if _, stderr, code := run(t, bin, unmounted, "storage", "migrate", "--to", "s3"); code != 1 || !strings.Contains(stderr, "is the volume mounted") {
		t.Fatalf("unmounted volume: exit %d %s", code, stderr)
	}
	if _, stderr, code := run(t, bin, env, "storage", "migrate", "--to", "gcs"); code != 1 || !strings.Contains(stderr, "usage") {
		t.Fatalf("bad target: exit %d %s", code, stderr)
	}
}
