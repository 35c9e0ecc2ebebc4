package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Destination stores backup objects by slash-separated name
// ("<id>/data.tar.gz"). Implementations: a directory and S3-compatible
// object storage.
type Destination interface {
	// Put stores r as name, streaming; size is -1 when unknown. A failed
	// Put leaves no object named name.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Get opens name; a missing object is an error wrapping fs.ErrNotExist.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// List returns every object below the destination.
	List(ctx context.Context) ([]Object, error)
	// Delete removes names; missing ones are not an error.
	Delete(ctx context.Context, names ...string) error
	// String names the destination for people (no credentials).
	String() string
}

// Object is a stored object.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Open returns the destination named by raw: s3://bucket[/prefix] (settings
// from BACKUP_S3_* through env), file:///path, or a directory path.
func Open(raw string, env func(string) (string, bool)) (Destination, error) {
	switch {
	case raw == "":
		return nil, errors.New("no backup destination given (a directory, file:///path or s3://bucket/prefix)")
	case strings.HasPrefix(raw, "s3://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("backup destination %q: want s3://bucket/prefix", raw)
		}
		cfg, err := S3ConfigFromEnv(env)
		if err != nil {
			return nil, err
		}
		return newS3(cfg, u.Host, strings.Trim(u.Path, "/"))
	case strings.HasPrefix(raw, "file://"):
		u, err := url.Parse(raw)
		if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
			return nil, fmt.Errorf("backup destination %q: want file:///absolute/path", raw)
		}
		return newDir(u.Path)
	case strings.Contains(raw, "://"):
		return nil, fmt.Errorf("backup destination %q: unsupported scheme (use a path, file:// or s3://)", raw)
	default:
		return newDir(raw)
	}
}

// dirDest keeps objects as files below a directory (a PVC mounted at
// /backups, say).
type dirDest struct{ root string }

func newDir(path string) (*dirDest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("backup directory %s: %w", abs, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("backup directory %s is not a directory", abs)
	}
	return &dirDest{root: abs}, nil
}

func (d *dirDest) String() string { return d.root }

func (d *dirDest) path(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return filepath.Join(d.root, clean), nil
}

// Put writes to a temporary file next to the target, syncs it and renames
// it into place, so name exists only once complete.
func (d *dirDest) Put(ctx context.Context, name string, r io.Reader, _ int64) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tmp := p + ".partial-" + hex.EncodeToString(suffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p, err)
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (d *dirDest) Get(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

func (d *dirDest) List(_ context.Context) ([]Object, error) {
	var out []Object
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != d.root && errors.Is(err, fs.ErrPermission) {
				return fs.SkipDir // e.g. lost+found on a volume
			}
			return err
		}
		if e.IsDir() || !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // renamed or deleted while listing
			}
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		out = append(out, Object{Name: filepath.ToSlash(rel), Size: info.Size(), Modified: info.ModTime()})
		return nil
	})
	return out, err
}

func (d *dirDest) Delete(_ context.Context, names ...string) error {
	dirs := map[string]bool{}
	for _, n := range names {
		p, err := d.path(n)
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dirs[filepath.Dir(p)] = true
	}
	for dir := range dirs {
		if dir != d.root {
			_ = os.Remove(dir) // only if now empty
		}
	}
	return nil
}

// ctxReader stops a long copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
