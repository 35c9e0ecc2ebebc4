package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Directories of the filesystem backend below its root: uploads are
// written to tmp/ and renamed into place; trash/ holds one entry per
// deleted document, named <unix seconds>-<document id>-<suffix>, with the
// trashed files below it at their keys
// (trash/1732870000-<id>-123/documents/<id>/original).
const (
	tmpDir     = "tmp"
	trashDir   = "trash"
	probeDir   = ".cl-probe"
	tempPrefix = "upload-"
)

// Filesystem is a Store in a directory tree (STORAGE_PATH): a volume shared
// by backend and worker, or one node's disk for `make demo`.
type Filesystem struct {
	root string
}

var _ Store = (*Filesystem)(nil)

// NewFilesystem returns the store rooted at root, creating it if needed.
func NewFilesystem(root string) (*Filesystem, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("storage path: %w", err)
	}
	for _, d := range []string{abs, filepath.Join(abs, tmpDir), filepath.Join(abs, "documents"), filepath.Join(abs, "reports"), filepath.Join(abs, trashDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create storage directory: %w", err)
		}
	}
	return &Filesystem{root: abs}, nil
}

// Root is the absolute storage directory.
func (s *Filesystem) Root() string { return s.root }

func (s *Filesystem) String() string { return s.root }

// Path resolves a key to a file path, refusing anything that escapes the
// root or falls in tmp/ or trash/.
func (s *Filesystem) Path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put writes r to a temporary file in tmp/ (same filesystem) and renames
// it to key once complete; on any error the temporary file is removed.
func (s *Filesystem) Put(ctx context.Context, key string, r io.Reader, size int64) (n int64, err error) {
	dst, err := s.Path(key)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), tempPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err = io.CopyBuffer(fileWriter{f}, ctxReader{ctx, r}, make([]byte, 64<<10))
	var we *writeError
	switch {
	case errors.As(err, &we):
		return n, fmt.Errorf("store %s: %w", key, we.err)
	case err != nil:
		return n, err // the reader's error
	case size >= 0 && n != size:
		return n, fmt.Errorf("store %s: read %d bytes, want %d", key, n, size)
	}
	if err = f.Close(); err != nil {
		return n, fmt.Errorf("store %s: %w", key, err)
	}
	if err = os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return n, fmt.Errorf("store %s: %w", key, err)
	}
	if err = os.Rename(f.Name(), dst); err != nil {
		return n, fmt.Errorf("store %s: %w", key, err)
	}
	return n, nil
}

// writeError marks an error of the file being written, as opposed to one
// of the reader.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// ctxReader stops reading once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

type osFile struct {
	*os.File
	info Info
}

func (f osFile) Info() Info { return f.info }

func openOS(path, key string) (File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(key)
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, notExist(key)
	}
	return osFile{f, Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

func (s *Filesystem) Open(_ context.Context, key string) (File, error) {
	p, err := s.Path(key)
	if err != nil {
		return nil, err
	}
	return openOS(p, key)
}

func (s *Filesystem) Stat(_ context.Context, key string) (Info, error) {
	p, err := s.Path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return Info{}, notExist(key)
	}
	if err != nil {
		return Info{}, err
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Remove deletes the file at key and the directories it leaves empty
// (documents/<id>/).
func (s *Filesystem) Remove(_ context.Context, key string) error {
	p, err := s.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", key, err)
	}
	s.removeEmptyParents(p)
	return nil
}

func (s *Filesystem) removeEmptyParents(p string) {
	for dir := filepath.Dir(p); filepath.Dir(dir) != s.root && dir != s.root; dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

// LocalFile is the stored file itself: nothing to copy or release.
func (s *Filesystem) LocalFile(ctx context.Context, key string) (string, func(), error) {
	if _, err := s.Stat(ctx, key); err != nil {
		return "", nil, err
	}
	p, _ := s.Path(key)
	return p, func() {}, nil
}

func (s *Filesystem) List(ctx context.Context, fn func(Info) error) error {
	for _, top := range []string{"documents", "reports"} {
		err := filepath.WalkDir(filepath.Join(s.root, top), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			st, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(s.root, p)
			return fn(Info{Key: filepath.ToSlash(rel), Size: st.Size(), ModTime: st.ModTime()})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TrashDocument moves the files into a new trash entry. Each move is a
// rename within the volume, so at every moment a file is either at its
// key or in the trash.
func (s *Filesystem) TrashDocument(_ context.Context, documentID string, reportIDs []string) error {
	keys, err := trashKeys(documentID, reportIDs)
	if err != nil {
		return err
	}
	derived, err := s.keysUnder(documentPrefix(documentID), DocumentKey(documentID))
	if err != nil {
		return fmt.Errorf("trash document %s: %w", documentID, err)
	}
	return s.trash(documentID, append(keys, derived...))
}

// keysUnder lists the files below prefix (a directory key), except skip.
func (s *Filesystem) keysUnder(prefix, skip string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(filepath.Join(s.root, filepath.FromSlash(prefix)), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		if key := filepath.ToSlash(rel); key != skip {
			keys = append(keys, key)
		}
		return nil
	})
	return keys, err
}

func (s *Filesystem) TrashReports(_ context.Context, projectID string, reportIDs []string) error {
	if !uuidRE.MatchString(projectID) {
		return fmt.Errorf("invalid project id %q", projectID)
	}
	keys, err := reportKeys(reportIDs)
	if err != nil || len(keys) == 0 {
		return err
	}
	return s.trash(projectID, keys)
}

// trash moves keys into a new trash entry <unix seconds>-<owner>-<suffix>.
func (s *Filesystem) trash(owner string, keys []string) error {
	entry, err := os.MkdirTemp(filepath.Join(s.root, trashDir), strconv.FormatInt(time.Now().Unix(), 10)+"-"+owner+"-")
	if err != nil {
		return fmt.Errorf("trash %s: %w", owner, err)
	}
	moved := 0
	for _, key := range keys {
		src := filepath.Join(s.root, filepath.FromSlash(key))
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		dst := filepath.Join(entry, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return fmt.Errorf("trash %s: %w", key, err)
		}
		if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trash %s: %w", key, err)
		}
		s.removeEmptyParents(src)
		moved++
	}
	if moved == 0 {
		_ = os.RemoveAll(entry)
	}
	return nil
}

func (s *Filesystem) OpenIncludingTrash(ctx context.Context, key string) (File, error) {
	f, err := s.Open(ctx, key)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	entries, rerr := os.ReadDir(filepath.Join(s.root, trashDir))
	if rerr != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() > entries[j].Name() })
	for _, e := range entries {
		if tf, terr := openOS(filepath.Join(s.root, trashDir, e.Name(), filepath.FromSlash(key)), key); terr == nil {
			return tf, nil
		}
	}
	return nil, err
}

// PurgeTrash removes the trash entries made before cutoff. Entries whose
// name does not start with a time are left alone.
func (s *Filesystem) PurgeTrash(_ context.Context, cutoff time.Time) (int, error) {
	dir := filepath.Join(s.root, trashDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
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

// RemoveStale deletes temporary upload files not modified for olderThan:
// leftovers of a process that died while writing. Files being written
// have a recent modification time and are kept.
func (s *Filesystem) RemoveStale(_ context.Context, olderThan time.Duration) (int, error) {
	dir := filepath.Join(s.root, tmpDir)
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
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// emptyAllowed are what an empty store's root may hold: its own
// directories (tmp may hold leftovers of interrupted uploads; the others
// must be empty) and a volume's lost+found.
var emptyAllowed = map[string]bool{tmpDir: true, "documents": false, "reports": false, trashDir: false, "lost+found": true}

func (s *Filesystem) CheckEmpty(context.Context) error {
	entries, err := os.ReadDir(s.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check that the storage is empty: %w", err)
	}
	for _, e := range entries {
		mayHold, known := emptyAllowed[e.Name()]
		if known && e.IsDir() {
			if mayHold {
				continue
			}
			sub, err := os.ReadDir(filepath.Join(s.root, e.Name()))
			if err != nil {
				return fmt.Errorf("check that the storage is empty: %w", err)
			}
			if len(sub) == 0 {
				continue
			}
		}
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		return &notEmpty{fmt.Sprintf("the storage directory %s is not empty (it has %s)", s.root, name)}
	}
	return nil
}
