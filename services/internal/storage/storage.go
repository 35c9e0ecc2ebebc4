// Package storage keeps uploaded documents and generated reports by key,
// with server-chosen names: on a filesystem (STORAGE_BACKEND=filesystem,
// under STORAGE_PATH) or in an S3-compatible object store
// (STORAGE_BACKEND=s3, STORAGE_S3_*). Keys are relative slash paths
// (documents/<id>/original, reports/<id>.<format>); client-supplied names
// are never used in a key.
//
// Files of deleted documents are not removed at once: TrashDocument moves
// them aside and PurgeTrash removes them after a grace period, so a backup
// whose database snapshot still references them can copy them
// (OpenIncludingTrash).
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// Store is where documents and reports live. Both backends keep the same
// promises:
//   - Put streams and is all or nothing: a failed or interrupted Put leaves
//     no object at key (and never a partial one); the object appears
//     complete, replacing any previous one.
//   - A missing key is an error wrapping fs.ErrNotExist.
//   - Trashing keeps each file readable at every moment, at its key or in
//     the trash, until PurgeTrash removes it.
type Store interface {
	// Put stores r at key, reading it to EOF; size is -1 when unknown. It
	// returns the bytes stored. An error from r is returned as it is
	// (wrapped), so callers can tell their reader's errors from the store's.
	Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error)
	// Open opens the object at key for streaming and random access.
	Open(ctx context.Context, key string) (File, error)
	// Stat describes the object at key.
	Stat(ctx context.Context, key string) (Info, error)
	// Remove deletes the object at key; a missing one is not an error.
	Remove(ctx context.Context, key string) error
	// LocalFile makes the object at key available as a local file, for
	// tools that need a path (pdftotext, tesseract). The filesystem backend
	// returns the stored file itself; the S3 backend downloads a copy into
	// os.TempDir. release removes the copy.
	LocalFile(ctx context.Context, key string) (path string, release func(), err error)
	// List calls fn for every stored document and report (not the trash).
	List(ctx context.Context, fn func(Info) error) error

	// TrashDocument moves a deleted document's files (everything under
	// documents/<id>/: the original, page images, word boxes; and its
	// reports' files) to the trash. Files already gone are skipped.
	TrashDocument(ctx context.Context, documentID string, reportIDs []string) error
	// TrashReports moves the files of a deleted project's reports to the
	// trash, like TrashDocument.
	TrashReports(ctx context.Context, projectID string, reportIDs []string) error
	// OpenIncludingTrash opens key at its place or, if it was trashed
	// since, its newest copy in the trash.
	OpenIncludingTrash(ctx context.Context, key string) (File, error)
	// PurgeTrash removes what was trashed before cutoff and returns how
	// many entries (filesystem) or objects (S3) it removed.
	PurgeTrash(ctx context.Context, cutoff time.Time) (int, error)
	// RemoveStale removes what uploads abandoned by a killed process left
	// behind (temporary files; incomplete multipart uploads) that is older
	// than olderThan, and returns how many.
	RemoveStale(ctx context.Context, olderThan time.Duration) (int, error)
	// CheckEmpty returns an error wrapping ErrNotEmpty, naming what it
	// found, unless the store holds no document, report or trash.
	CheckEmpty(ctx context.Context) error

	// String names the store for people and logs (never a credential).
	String() string
}

// File is an open stored object.
type File interface {
	io.ReadSeekCloser
	io.ReaderAt
	Info() Info
}

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ErrNotEmpty: the store holds files (CheckEmpty).
var ErrNotEmpty = errors.New("storage is not empty")

// notEmpty is CheckEmpty's error: what was found, and errors.Is ErrNotEmpty.
type notEmpty struct{ msg string }

func (e *notEmpty) Error() string        { return e.msg }
func (e *notEmpty) Is(target error) bool { return target == ErrNotEmpty }

// Open returns the store cfg configures: the filesystem under
// STORAGE_PATH, or the S3 bucket of STORAGE_S3_* (probed first: see
// OpenS3).
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (Store, error) {
	switch cfg.StorageBackend {
	case config.StorageS3:
		return OpenS3(ctx, cfg.StorageS3, S3Options{Log: log})
	case config.StorageFilesystem, "":
		return NewFilesystem(cfg.StoragePath)
	}
	return nil, fmt.Errorf("STORAGE_BACKEND %q: want filesystem or s3", cfg.StorageBackend)
}

// DocumentKey is the key of a document's original file.
func DocumentKey(documentID string) string { return "documents/" + documentID + "/original" }

// documentPrefix holds every file of a document: its original and what the
// worker derives from it (page images, word boxes), all trashed together.
func documentPrefix(documentID string) string { return "documents/" + documentID + "/" }

// ReportKey is the key of a generated report ("html" or "pdf").
func ReportKey(reportID, format string) string { return "reports/" + reportID + "." + format }

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// reserved are the top-level names a backend uses for itself.
var reserved = []string{tmpDir, trashDir, probeDir, "lost+found"}

// CheckKey refuses keys that are not plain relative slash paths (empty
// segments, "." or "..", backslashes) or that fall in a backend's own
// directories (tmp/, trash/).
func CheckKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) {
		return fmt.Errorf("invalid storage key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid storage key %q", key)
		}
	}
	top, _, _ := strings.Cut(key, "/")
	for _, r := range reserved {
		if top == r {
			return fmt.Errorf("invalid storage key %q: %s/ is reserved", key, r)
		}
	}
	return nil
}

// trashKeys are the keys a deleted document's files live at.
func trashKeys(documentID string, reportIDs []string) ([]string, error) {
	if !uuidRE.MatchString(documentID) {
		return nil, fmt.Errorf("invalid document id %q", documentID)
	}
	keys, err := reportKeys(reportIDs)
	if err != nil {
		return nil, err
	}
	return append([]string{DocumentKey(documentID)}, keys...), nil
}

// reportKeys are the keys of the files of reports.
func reportKeys(reportIDs []string) ([]string, error) {
	var keys []string
	for _, id := range reportIDs {
		if !uuidRE.MatchString(id) {
			return nil, fmt.Errorf("invalid report id %q", id)
		}
		keys = append(keys, ReportKey(id, "html"), ReportKey(id, "pdf"))
	}
	return keys, nil
}

func notExist(key string) error {
	return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
}
