package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// ErrCorrupt is wrapped by every error about a backup's content: a
// checksum, size or count that does not match, a truncated or unreadable
// archive, an inconsistent manifest.
var ErrCorrupt = errors.New("backup is corrupt")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// Member names inside the archive.
const (
	tablesDir = "tables/"
	filesDir  = "files/"
)

func chunkName(table string, n int) string { return fmt.Sprintf("%s%s/%05d.copy", tablesDir, table, n) }

// memberTable returns the table of a tables/<table>/<n>.copy member.
func memberTable(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, tablesDir)
	if !ok {
		return "", false
	}
	table, file, ok := strings.Cut(rest, "/")
	if !ok || table == "" || !strings.HasSuffix(file, ".copy") || strings.Contains(file, "/") {
		return "", false
	}
	return table, true
}

// memberKey returns the storage key of a files/<key> member, refusing any
// key that could leave the storage directory.
func memberKey(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, filesDir)
	if !ok || key == "" || strings.Contains(key, "\\") || path.IsAbs(key) || path.Clean(key) != key ||
		key == ".." || strings.HasPrefix(key, "../") {
		return "", false
	}
	return key, true
}

// archiveWriter writes tar members and records their size and sha256.
type archiveWriter struct {
	tw      *tar.Writer
	members []Member
}

// add writes one member of exactly size bytes from r.
func (a *archiveWriter) add(name string, size int64, modTime time.Time, r io.Reader) (Member, error) {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o640, ModTime: modTime.UTC().Truncate(time.Second)}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return Member{}, fmt.Errorf("archive %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(a.tw, h), io.LimitReader(r, size))
	if err != nil {
		return Member{}, fmt.Errorf("archive %s: %w", name, err)
	}
	if n != size {
		return Member{}, fmt.Errorf("archive %s: read %d of %d bytes (the file changed while it was copied)", name, n, size)
	}
	m := Member{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	a.members = append(a.members, m)
	return m, nil
}

// copyChunker receives COPY ... TO STDOUT text and writes it as members of
// about limit bytes, each ending at a row boundary (COPY text escapes
// newlines in values, so every newline ends a row). Memory stays at one
// chunk, and the archive needs each member's size before its data.
type copyChunker struct {
	aw      *archiveWriter
	table   string
	limit   int
	modTime time.Time
	buf     []byte
	chunks  int
	rows    int64
}

func (c *copyChunker) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	c.rows += int64(bytes.Count(p, []byte{'\n'}))
	if len(c.buf) >= c.limit {
		if i := bytes.LastIndexByte(c.buf, '\n'); i >= 0 {
			if err := c.flush(c.buf[:i+1]); err != nil {
				return 0, err
			}
			c.buf = c.buf[:copy(c.buf, c.buf[i+1:])]
		}
	}
	return len(p), nil
}

func (c *copyChunker) flush(b []byte) error {
	c.chunks++
	_, err := c.aw.add(chunkName(c.table, c.chunks), int64(len(b)), c.modTime, bytes.NewReader(b))
	return err
}

// close writes what is left; a partial row at the end means COPY broke off.
func (c *copyChunker) close() error {
	if len(c.buf) == 0 {
		return nil
	}
	if c.buf[len(c.buf)-1] != '\n' {
		return fmt.Errorf("copy %s: the data ends in the middle of a row", c.table)
	}
	err := c.flush(c.buf)
	c.buf = c.buf[:0]
	return err
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingReader) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// hashingWriter hashes and counts what is written through it.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// readArchive streams backup m's archive from dest and checks it against
// the manifest as it goes: member names in order, each member's size and
// sha256, the rows of each table, the archive's own manifest, and the
// archive's size and sha256. visit (may be nil) gets each data member's
// content; it must not trust what it read until readArchive returns nil,
// since a mismatch is only known at the member's end.
func readArchive(ctx context.Context, dest Destination, m *Manifest, visit func(i int, mem Member, r io.Reader) error) error {
	rc, err := dest.Get(ctx, m.ID+"/"+archiveName)
	if errors.Is(err, fs.ErrNotExist) {
		return corrupt("the archive %s/%s is missing", m.ID, archiveName)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	whole := newHashingReader(ctxReader{ctx, rc})
	gz, err := gzip.NewReader(whole)
	if err != nil {
		return corrupt("the archive is not gzip data: %v", err)
	}
	tr := tar.NewReader(gz)
	rows := map[string]int64{}
	next := func(want string) (*tar.Header, error) {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, corrupt("the archive ends before member %s (truncated)", want)
		}
		if err != nil {
			return nil, readErr(ctx, "reading the member after "+want, err)
		}
		if hdr.Name != want {
			return nil, corrupt("member %q found where %q was expected", hdr.Name, want)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, corrupt("member %s is not a regular file", hdr.Name)
		}
		return hdr, nil
	}
	for i, mem := range m.Members {
		hdr, err := next(mem.Name)
		if err != nil {
			return err
		}
		if hdr.Size != mem.Size {
			return corrupt("member %s has %d bytes, the manifest says %d", mem.Name, hdr.Size, mem.Size)
		}
		hr := newHashingReader(tr)
		var r io.Reader = hr
		table, isTable := memberTable(mem.Name)
		var nl *newlineCounter
		if isTable {
			nl = &newlineCounter{r: hr}
			r = nl
		}
		var visitErr error
		if visit != nil {
			visitErr = visit(i, mem, r)
		}
		// Read the member to its end even when visit failed: a damaged
		// member explains the failure better than the visitor can.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return readErr(ctx, "reading member "+mem.Name, err)
		}
		if hr.n != mem.Size || hr.sum() != mem.SHA256 {
			return corrupt("member %s does not match its sha256 in the manifest", mem.Name)
		}
		if visitErr != nil {
			return visitErr
		}
		if isTable {
			rows[table] += nl.n
		}
	}
	hdr, err := next(manifestName)
	if err != nil {
		return err
	}
	if hdr.Size > 64<<20 {
		return corrupt("the archive's manifest is %d bytes", hdr.Size)
	}
	inner, err := io.ReadAll(tr)
	if err != nil {
		return readErr(ctx, "reading the archive's manifest", err)
	}
	if err := sameManifest(inner, m); err != nil {
		return err
	}
	if hdr, err := tr.Next(); err == nil {
		return corrupt("unexpected member %s after the manifest", hdr.Name)
	} else if err != io.EOF {
		return readErr(ctx, "reading the end of the archive", err)
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return readErr(ctx, "reading the end of the archive", err)
	}
	if err := gz.Close(); err != nil {
		return readErr(ctx, "closing the archive", err)
	}
	if _, err := io.Copy(io.Discard, whole); err != nil {
		return readErr(ctx, "reading the end of the archive", err)
	}
	if whole.n != m.Archive.Size {
		return corrupt("the archive has %d bytes, the manifest says %d (truncated or replaced)", whole.n, m.Archive.Size)
	}
	if whole.sum() != m.Archive.SHA256 {
		return corrupt("the archive does not match its sha256 in the manifest")
	}
	for _, t := range m.Tables {
		if rows[t.Name] != t.Rows {
			return corrupt("table %s has %d rows in the archive, the manifest says %d", t.Name, rows[t.Name], t.Rows)
		}
	}
	return nil
}

// readErr turns a read failure into a corruption error unless the context
// ended or the storage failed (those are not the backup's fault).
func readErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return corrupt("%s: %v (truncated or damaged)", what, err)
}

type newlineCounter struct {
	r io.Reader
	n int64
}

func (c *newlineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(bytes.Count(p[:n], []byte{'\n'}))
	return n, err
}

// sameManifest checks the archive's own manifest against m (which also
// carries the archive's checksum and the finish time).
func sameManifest(inner []byte, m *Manifest) error {
	var im Manifest
	if err := json.Unmarshal(inner, &im); err != nil {
		return corrupt("the archive's manifest is not valid JSON: %v", err)
	}
	outer := *m
	outer.Archive, outer.FinishedAt = nil, time.Time{}
	a, _ := json.Marshal(im)
	b, _ := json.Marshal(outer)
	if !bytes.Equal(a, b) {
		return corrupt("the archive's manifest differs from %s", manifestName)
	}
	return nil
}
