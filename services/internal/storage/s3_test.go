package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// sseOf is the encryption the server reports for an object.
func sseOf(t *testing.T, s *S3, key string) string {
	t.Helper()
	st, err := s.client.StatObject(context.Background(), s.cfg.Bucket, s.cfg.Prefix+key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return st.Metadata.Get("X-Amz-Server-Side-Encryption")
}

// With a store that supports it, objects (uploads, and trashed copies)
// are encrypted by the server; STORAGE_S3_SSE=s3 is satisfied.
func TestS3EncryptsObjectsWhenTheStoreCan(t *testing.T) {
	cfg := s3Config(t, seaweed)
	cfg.SSE = config.SSES3
	s, err := OpenS3(context.Background(), cfg, S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Put(ctx, DocumentKey(docID), bytes.NewReader(randomBytes(6<<20)), -1); err != nil {
		t.Fatal(err)
	}
	if got := sseOf(t, s, DocumentKey(docID)); got != "AES256" {
		t.Fatalf("upload stored with encryption %q", got)
	}
	if err := s.TrashDocument(ctx, docID, nil); err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenIncludingTrash(ctx, DocumentKey(docID))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var trashed string
	for o := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.trashPrefix(DocumentKey(docID))}) {
		trashed = strings.TrimPrefix(o.Key, s.cfg.Prefix)
	}
	if got := sseOf(t, s, trashed); got != "AES256" {
		t.Fatalf("trashed copy %s stored with encryption %q", trashed, got)
	}
}

// A store without server-side encryption is tolerated by default (with a
// warning), refused when encryption is required, and used quietly with
// STORAGE_S3_SSE=none.
func TestS3WithoutServerSideEncryption(t *testing.T) {
	plain := testenv.S3TB(t) // no encryption key: SSE requests fail
	ctx := context.Background()
	for _, tc := range []struct {
		mode    string
		fails   bool
		warning bool
	}{{config.SSEAuto, false, true}, {config.SSES3, true, false}, {config.SSENone, false, false}} {
		var logs bytes.Buffer
		cfg := s3Config(t, plain)
		cfg.SSE = tc.mode
		s, err := OpenS3(ctx, cfg, S3Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if tc.fails {
			if err == nil || !strings.Contains(err.Error(), "STORAGE_S3_SSE=s3") {
				t.Fatalf("%s: %v", tc.mode, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		if got := strings.Contains(logs.String(), "refuses server-side encryption"); got != tc.warning {
			t.Fatalf("%s: warning %v:\n%s", tc.mode, got, logs.String())
		}
		put(t, s, DocumentKey(docID), "contract")
		if got := read(t, s.Open, DocumentKey(docID)); got != "contract" {
			t.Fatalf("%s: read %q", tc.mode, got)
		}
	}
}

// Refused credentials and a missing bucket are named at start; an upload
// with credentials that stopped working fails without storing anything
// and without losing what is there; no message shows the secret.
func TestS3BadCredentialsAreClearAndLoseNothing(t *testing.T) {
	ctx := context.Background()
	good := newS3(t)
	put(t, good, DocumentKey(otherID), "kept")

	cfg := good.cfg
	cfg.SecretAccessKey = "wrong-secret-0123456789"
	start := time.Now()
	_, err := OpenS3(ctx, cfg, S3Options{})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") || !strings.Contains(err.Error(), "STORAGE_S3_SECRET_ACCESS_KEY") {
		t.Fatalf("open with a wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), cfg.SecretAccessKey) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("refused credentials were retried for %s", time.Since(start))
	}

	bad, err := NewS3(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Put(ctx, DocumentKey(docID), bytes.NewReader(randomBytes(6<<20)), -1)
	if err == nil || Unavailable(err) || NoSpace(err) || strings.Contains(err.Error(), cfg.SecretAccessKey) {
		t.Fatalf("put with a wrong secret: %v", err)
	}
	if _, err := bad.Open(ctx, DocumentKey(otherID)); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open with a wrong secret: %v (must not look like a missing file)", err)
	}
	if _, err := good.Stat(ctx, DocumentKey(docID)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused upload stored something: %v", err)
	}
	if left := leftovers(t, good); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if got := read(t, good.Open, DocumentKey(otherID)); got != "kept" {
		t.Fatalf("existing object reads %q", got)
	}

	cfg = good.cfg
	cfg.Bucket = "cl-no-such-bucket"
	if _, err := OpenS3(ctx, cfg, S3Options{}); err == nil || !strings.Contains(err.Error(), "STORAGE_S3_BUCKET") {
		t.Fatalf("missing bucket: %v", err)
	}
	cfg = good.cfg
	cfg.Endpoint = "127.0.0.1:1" // nothing listens
	if _, err := OpenS3(ctx, cfg, S3Options{Wait: 2 * time.Second}); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("unreachable store: %v", err)
	}
}
