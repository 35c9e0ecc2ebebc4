package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
)

// Kubernetes keeps at most 4096 bytes of a container's termination message.
const terminationLogMax = 4096

// createResult is what `backup create --termination-log PATH` writes there:
// the outcome of one backup Job, compact enough for a termination message
// (the operator reads it from the terminated pod into status.backup). On
// failure only Error is set.
type createResult struct {
	ID           string    `json:"id,omitempty"`
	Destination  string    `json:"destination,omitempty"`
	SizeBytes    int64     `json:"size_bytes,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	AppVersion   string    `json:"app_version,omitempty"`
	Migration    string    `json:"migration,omitempty"`
	Files        int       `json:"files,omitempty"`
	FileBytes    int64     `json:"file_bytes,omitempty"`
	FileProblems int       `json:"file_problems,omitempty"`
	// Pruned lists the backups deleted after this one was written (the
	// first ones only if the list would not fit; PrunedCount has them all).
	Pruned      []string `json:"pruned,omitempty"`
	PrunedCount int      `json:"pruned_count,omitempty"`
	// PruneError: the backup was written, deleting old ones failed.
	PruneError string `json:"prune_error,omitempty"`
	Error      string `json:"error,omitempty"`
}

// restoreResult is what `restore --termination-log PATH` writes there.
type restoreResult struct {
	Restored string   `json:"restored,omitempty"`
	Migrated []string `json:"migrated,omitempty"`
	Error    string   `json:"error,omitempty"`
}

func newCreateResult(s backup.Summary) createResult {
	return createResult{ID: s.ID, Destination: s.Destination, SizeBytes: s.SizeBytes, StartedAt: s.StartedAt,
		FinishedAt: s.FinishedAt, AppVersion: s.AppVersion, Migration: s.Migration, Files: s.Files,
		FileBytes: s.FileBytes, FileProblems: len(s.FileProblems)}
}

// fitCreateResult shortens what can be long (the pruned list, messages)
// until r encodes within the termination message limit.
func fitCreateResult(r createResult) []byte {
	r.PrunedCount = len(r.Pruned)
	r.Error, r.PruneError = clip(r.Error, 3000), clip(r.PruneError, 1500)
	for {
		b, _ := json.Marshal(r)
		if len(b) <= terminationLogMax || len(r.Pruned) == 0 {
			return b
		}
		r.Pruned = r.Pruned[:len(r.Pruned)/2]
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// writeTerminationLog writes b to path (nothing when path is empty). It
// is the last thing a command does: a failure to write it is reported
// next to the command's own error, never instead of it.
func writeTerminationLog(path string, b []byte) error {
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write termination log %s: %w", path, err)
	}
	return nil
}
