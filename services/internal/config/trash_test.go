package config

import (
	"strings"
	"testing"
	"time"
)

func TestStorageTrashRetention(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0"}
	c, err := LoadFrom(Worker, env(base))
	if err != nil || c.StorageTrashRetention != 24*time.Hour {
		t.Fatalf("default retention %v (%v), want 24h", c.StorageTrashRetention, err)
	}
	base["STORAGE_TRASH_RETENTION"] = "90m"
	if c, err = LoadFrom(Worker, env(base)); err != nil || c.StorageTrashRetention != 90*time.Minute {
		t.Fatalf("retention %v (%v), want 90m", c.StorageTrashRetention, err)
	}
	base["STORAGE_TRASH_RETENTION"] = "soon"
	if _, err = LoadFrom(Worker, env(base)); err == nil || !strings.Contains(err.Error(), "STORAGE_TRASH_RETENTION") {
		t.Fatalf("a bad retention is not refused by name: %v", err)
	}
}
