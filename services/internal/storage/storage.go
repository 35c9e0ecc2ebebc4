// Package storage keeps uploaded files and generated reports under
// STORAGE_PATH with server-chosen names. Keys are relative slash paths;
// client-supplied names are never used in a path.
//
// Files of deleted documents are not removed at once: TrashDocument moves
// them into trash/ and PurgeTrash removes them after a grace period, so a
// backup whose database snapshot still references them can copy them
// (OpenIncludingTrash).
package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Store is a directory tree rooted at STORAGE_PATH.
type Store struct {
	root string
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// New returns a store rooted at root, creating it if needed.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage path: %w", err)
	}
	for _, d := range []string{abs, filepath.Join(abs, "tmp"), filepath.Join(abs, "documents"), filepath.Join(abs, "reports"), filepath.Join(abs, trashDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create storage directory: %w", err)
		}
	}
	return &Store{root: abs}, nil
}

// Root is the absolute storage directory.
func (s *Store) Root() string { return s.root }

// DocumentKey is the key of a document's original file.
func DocumentKey(documentID string) string { return "documents/" + documentID + "/original" }

// ReportKey is the key of a generated report ("html" or "pdf").
func ReportKey(reportID, format string) string { return "reports/" + reportID + "." + format }

// Path resolves a key to a file path, refusing anything that escapes the root.
func (s *Store) Path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("invalid storage key %q", key)
	}
	clean := filepath.Clean(filepath.FromSlash(key))
	if clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("invalid storage key %q", key)
	}
	return filepath.Join(s.root, clean), nil
}

// TempFile creates a temporary file inside the store (same filesystem, so
// Commit is an atomic rename).
func (s *Store) TempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.root, "tmp"), tempPrefix+"*")
}

const tempPrefix = "upload-"

// RemoveStaleTemp deletes temporary files not modified for olderThan:
// leftovers of a process that died while writing. Files being written
// have a recent modification time and are kept.
func (s *Store) RemoveStaleTemp(olderThan time.Duration) (int, error) {
	dir := filepath.Join(s.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", dir, err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Commit moves a finished temporary file to key.
func (s *Store) Commit(tmpPath, key string) error {
	dst, err := s.Path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("create directory for %s: %w", key, err)
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Open opens the file at key.
func (s *Store) Open(key string) (*os.File, error) {
	p, err := s.Path(key)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Write stores r at key (used for generated reports).
func (s *Store) Write(key string, r io.Reader) error {
	f, err := s.TempFile()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return s.Commit(f.Name(), key)
}

// Remove deletes the file at key; a missing file is not an error.
func (s *Store) Remove(key string) error {
	p, err := s.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	return nil
}

// RemoveDocument deletes a document's directory and everything in it.
func (s *Store) RemoveDocument(documentID string) error {
	if !uuidRE.MatchString(documentID) {
		return fmt.Errorf("invalid document id %q", documentID)
	}
	if err := os.RemoveAll(filepath.Join(s.root, "documents", documentID)); err != nil {
		return fmt.Errorf("remove document %s: %w", documentID, err)
	}
	return nil
}

// trashDir holds one entry per deleted document, named
// <unix seconds>-<document id>[-suffix], with the trashed files below it at
// their keys (trash/1732870000-<id>/documents/<id>/original).
const trashDir = "trash"

// TrashDocument moves a deleted document's files (its directory and the
// files of its reports) into a new trash entry. Each move is a rename within
// the store, so at every moment a file is either at its key or in the trash.
// Files already gone are skipped.
func (s *Store) TrashDocument(documentID string, reportIDs []string) error {
	if !uuidRE.MatchString(documentID) {
		return fmt.Errorf("invalid document id %q", documentID)
	}
	keys, err := reportKeys(reportIDs)
	if err != nil {
		return err
	}
	return s.trash(documentID, append(keys, "documents/"+documentID))
}

// TrashReports moves the files of reports of a deleted project into a new
// trash entry named after the project, like TrashDocument.
func (s *Store) TrashReports(projectID string, reportIDs []string) error {
	if !uuidRE.MatchString(projectID) {
		return fmt.Errorf("invalid project id %q", projectID)
	}
	keys, err := reportKeys(reportIDs)
	if err != nil || len(keys) == 0 {
		return err
	}
	return s.trash(projectID, keys)
}

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

// trash moves keys into a new trash entry <unix seconds>-<owner>-<suffix>.
func (s *Store) trash(owner string, keys []string) error {
	entry, err := os.MkdirTemp(filepath.Join(s.root, trashDir), strconv.FormatInt(time.Now().Unix(), 10)+"-"+owner+"-")
	if err != nil {
		return fmt.Errorf("trash %s: %w", owner, err)
	}
	moved := 0
	for _, key := range keys {
		src := filepath.Join(s.root, filepath.FromSlash(key))
		if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		dst := filepath.Join(entry, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return fmt.Errorf("trash %s: %w", key, err)
		}
		if err := os.Rename(src, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("trash %s: %w", key, err)
		}
		moved++
	}
	if moved == 0 {
		_ = os.RemoveAll(entry)
	}
	return nil
}

// OpenIncludingTrash opens the file at key from its live path or, if it was
// trashed since, from the trash (the newest entry that has it).
func (s *Store) OpenIncludingTrash(key string) (*os.File, error) {
	p, err := s.Path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	entries, rerr := os.ReadDir(filepath.Join(s.root, trashDir))
	if rerr != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() > entries[j].Name() })
	for _, e := range entries {
		if tf, terr := os.Open(filepath.Join(s.root, trashDir, e.Name(), filepath.FromSlash(key))); terr == nil {
			return tf, nil
		}
	}
	return nil, err
}

// PurgeTrash removes the trash entries made before cutoff and returns how
// many it removed. Entries whose name does not start with a time are left
// alone.
func (s *Store) PurgeTrash(cutoff time.Time) (int, error) {
	dir := filepath.Join(s.root, trashDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read trash: %w", err)
	}
	n := 0
	for _, e := range entries {
		stamp, _, ok := strings.Cut(e.Name(), "-")
		sec, perr := strconv.ParseInt(stamp, 10, 64)
		if !ok || perr != nil || !time.Unix(sec, 0).Before(cutoff) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return n, fmt.Errorf("purge trash entry %s: %w", e.Name(), err)
		}
		n++
	}
	return n, nil
}
