package worker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// The worker purges trash entries older than STORAGE_TRASH_RETENTION and
// leaves younger ones for backups that may still need them.
func TestWorkerPurgesExpiredTrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	e.cfg.StorageTrashRetention = 2 * time.Second
	trash := filepath.Join(e.cfg.StoragePath, "trash")
	old := filepath.Join(trash, fmt.Sprintf("%d-0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11-1", time.Now().Add(-time.Hour).Unix()))
	fresh := filepath.Join(trash, fmt.Sprintf("%d-1c6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e12-1", time.Now().Add(time.Hour).Unix()))
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "documents", "x"), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "documents", "x", "original"), []byte("pdf"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	e.run(e.newWorker(worker.Options{}, worker.Hooks{}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(old); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired trash entry was not purged")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("young trash entry purged: %v", err)
	}
}
