package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// The same suite runs against both backends: the filesystem and a real
// S3-compatible server (SeaweedFS, with a key for server-side encryption).

var seaweed *testenv.S3

func TestMain(m *testing.M) {
	var err error
	if seaweed, err = testenv.StartS3With(testenv.S3Options{SSE: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	seaweed.Stop()
	os.Exit(code)
}

const (
	docID    = "0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11"
	reportID = "1c6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e12"
	otherID  = "2d6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e13"
)

// s3Config is the suite's server, under a prefix of its own per test.
func s3Config(t testing.TB, srv *testenv.S3) config.S3 {
	return config.S3{Endpoint: srv.Endpoint, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey,
		PathStyle: true, PartSize: 5 << 20, Bucket: srv.Bucket, Prefix: "t/" + strings.ToLower(randomSuffix()) + "/", SSE: config.SSEAuto}
}

func newS3(t testing.TB) *S3 {
	t.Helper()
	s, err := OpenS3(context.Background(), s3Config(t, seaweed), S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFS(t testing.TB) *Filesystem {
	t.Helper()
	s, err := NewFilesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eachBackend runs f against a fresh store of each backend.
func eachBackend(t *testing.T, f func(t *testing.T, s Store)) {
	t.Run("filesystem", func(t *testing.T) { f(t, newFS(t)) })
	t.Run("s3", func(t *testing.T) { f(t, newS3(t)) })
}

func put(t testing.TB, s Store, key, content string) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, open func(context.Context, string) (File, error), key string) string {
	t.Helper()
	f, err := open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// leftovers lists what a failed upload could leave: temporary files
// (filesystem) and incomplete multipart uploads (S3).
func leftovers(t *testing.T, s Store) []string {
	t.Helper()
	var out []string
	switch s := s.(type) {
	case *Filesystem:
		es, err := os.ReadDir(filepath.Join(s.Root(), tmpDir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, e.Name())
		}
	case *S3:
		for u := range s.client.ListIncompleteUploads(context.Background(), s.cfg.Bucket, s.cfg.Prefix, true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			out = append(out, u.Key)
		}
	}
	return out
}

func TestPutOpenRemove(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		key := DocumentKey(docID)
		body := []byte(strings.Repeat("contract clause ", 1000))
		for _, size := range []int64{int64(len(body)), -1} {
			n, err := s.Put(ctx, key, bytes.NewReader(body), size)
			if err != nil || n != int64(len(body)) {
				t.Fatalf("put (size %d): %d bytes, %v", size, n, err)
			}
		}
		f, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if f.Info().Size != int64(len(body)) || f.Info().Key != key || time.Since(f.Info().ModTime) > time.Hour {
			t.Fatalf("info %+v", f.Info())
		}
		// Random access (DOCX inspection, HTTP ranges) and streaming.
		mid := make([]byte, 7)
		if _, err := f.ReadAt(mid, 16); err != nil || string(mid) != "contrac" {
			t.Fatalf("ReadAt: %q %v", mid, err)
		}
		if _, err := f.Seek(8, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(rest, body[8:]) {
			t.Fatalf("read after seek: %d bytes, %v", len(rest), err)
		}
		f.Close()
		if st, err := s.Stat(ctx, key); err != nil || st.Size != int64(len(body)) {
			t.Fatalf("stat %+v %v", st, err)
		}
		// Replacing an object.
		put(t, s, key, "replaced")
		if got := read(t, s.Open, key); got != "replaced" {
			t.Fatalf("after replace: %q", got)
		}
		if err := s.Remove(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("open after remove: %v", err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stat after remove: %v", err)
		}
		if err := s.Remove(ctx, key); err != nil {
			t.Fatalf("removing a missing object: %v", err)
		}
		if _, _, err := s.LocalFile(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("local copy of a missing object: %v", err)
		}
	})
}

func TestKeysAreChecked(t *testing.T) {
	for _, k := range []string{"", "/etc/passwd", "../x", "documents/../../x", "..", `a\..\b`, "documents//x", "documents/./x",
		"tmp/upload-1", "trash/x", ".cl-probe/x"} {
		if err := CheckKey(k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	if err := CheckKey(DocumentKey(docID)); err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, s Store) {
		if _, err := s.Put(context.Background(), "../escape", strings.NewReader("x"), 1); err == nil {
			t.Fatal("an escaping key was stored")
		}
		if _, err := s.Open(context.Background(), "trash/x"); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a reserved key was looked up: %v", err)
		}
	})
}

// A 12 MiB upload of unknown size streams through several parts and
// reads back identically.
func TestPutStreamsLargeFiles(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		body := randomBytes(12 << 20)
		n, err := s.Put(context.Background(), DocumentKey(docID), io.MultiReader(bytes.NewReader(body)), -1)
		if err != nil || n != int64(len(body)) {
			t.Fatalf("put: %d, %v", n, err)
		}
		f, err := s.Open(context.Background(), DocumentKey(docID))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256(body); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatal("read back other bytes")
		}
	})
}

// cutReader yields n bytes, then fails with err (net/http's body of a
// cut connection fails with io.ErrUnexpectedEOF).
type cutReader struct {
	r   io.Reader
	n   int
	err error
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.n <= 0 {
		return 0, c.err
	}
	if len(b) > c.n {
		b = b[:c.n]
	}
	n, err := c.r.Read(b)
	c.n -= n
	return n, err
}

// An upload that fails half-way, by the reader (a cut connection) or a
// cancelled context, leaves nothing: no object, no partial object, no
// temporary file or incomplete multipart upload, and an object that was
// at the key before stays as it was.
func TestInterruptedPutLeavesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		body := randomBytes(12 << 20)
		key, kept := DocumentKey(docID), ReportKey(reportID, "pdf")
		put(t, s, kept, "previous report")
		for _, cut := range []int{1 << 20, 6 << 20} { // inside the first part, and after one part was uploaded
			for _, size := range []int64{-1, int64(len(body))} {
				_, err := s.Put(ctx, key, &cutReader{r: bytes.NewReader(body), n: cut, err: io.ErrUnexpectedEOF}, size)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("cut at %d (size %d): %v, want the reader's error", cut, size, err)
				}
				if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("cut at %d (size %d): an object is visible: %v", cut, size, err)
				}
			}
			_, err := s.Put(ctx, kept, &cutReader{r: bytes.NewReader(body), n: cut, err: io.ErrUnexpectedEOF}, -1)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("replacing, cut at %d: %v", cut, err)
			}
			if got := read(t, s.Open, kept); got != "previous report" {
				t.Fatalf("a failed replacement changed the object: %d bytes", len(got))
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(body[:6<<20])
			cancel()
			pw.Write(body[6<<20:]) // blocks until Put stops reading
		}()
		_, err := s.Put(cctx, key, pr, -1)
		pr.Close()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled put: %v", err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("cancelled put left an object: %v", err)
		}
		if left := leftovers(t, s); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	})
}

// A backup that opened a file just before the document was deleted still
// reads it (on S3 the content is fetched at the first read, from the trash
// if the object was moved there meanwhile).
func TestFileOpenedBeforeATrashingStaysReadable(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		put(t, s, DocumentKey(docID), "contract")
		f, err := s.OpenIncludingTrash(ctx, DocumentKey(docID))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := s.TrashDocument(ctx, docID, nil); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		if err != nil || string(b) != "contract" {
			t.Fatalf("read %q, %v", b, err)
		}
	})
}

// A deleted document's files leave their keys at once but stay readable for
// a backup from the trash until the grace period is over.
func TestTrashDocumentKeepsFilesUntilPurged(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		put(t, s, DocumentKey(docID), "contract")
		put(t, s, ReportKey(reportID, "html"), "<h1>report</h1>")
		put(t, s, DocumentKey(otherID), "kept")
		// What the worker derives from the document (the viewer's page
		// images) goes with it: nothing of a deleted contract stays.
		derived := "documents/" + docID + "/pages/1.png"
		put(t, s, derived, "page one")

		if err := s.TrashDocument(ctx, docID, []string{reportID}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, derived); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("page image of a deleted document still at its key: %v", err)
		}
		if got := read(t, s.OpenIncludingTrash, derived); got != "page one" {
			t.Fatalf("trashed page image reads %q", got)
		}
		if _, err := s.Open(ctx, DocumentKey(docID)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("document still at its key: %v", err)
		}
		if _, err := s.Open(ctx, ReportKey(reportID, "html")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("report still at its key: %v", err)
		}
		if got := read(t, s.OpenIncludingTrash, DocumentKey(docID)); got != "contract" {
			t.Fatalf("trashed document reads %q", got)
		}
		if got := read(t, s.OpenIncludingTrash, ReportKey(reportID, "html")); got != "<h1>report</h1>" {
			t.Fatalf("trashed report reads %q", got)
		}
		if got := read(t, s.OpenIncludingTrash, DocumentKey(otherID)); got != "kept" {
			t.Fatalf("live document reads %q", got)
		}
		if _, err := s.OpenIncludingTrash(ctx, ReportKey(reportID, "pdf")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a file that never existed: %v", err)
		}
		// Trashed twice (a restored id deleted again): the newest copy wins.
		time.Sleep(1100 * time.Millisecond) // trash names have one-second resolution
		put(t, s, DocumentKey(docID), "contract, second life")
		if err := s.TrashDocument(ctx, docID, nil); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s.OpenIncludingTrash, DocumentKey(docID)); got != "contract, second life" {
			t.Fatalf("newest trashed copy reads %q", got)
		}

		// Not yet expired: nothing goes.
		if n, err := s.PurgeTrash(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("purge of fresh trash removed %d (%v)", n, err)
		}
		if _, err := s.OpenIncludingTrash(ctx, DocumentKey(docID)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeTrash(ctx, time.Now().Add(time.Minute)); err != nil || n == 0 {
			t.Fatalf("purge removed %d (%v)", n, err)
		}
		if _, err := s.OpenIncludingTrash(ctx, DocumentKey(docID)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("purged document still readable: %v", err)
		}
		if got := read(t, s.Open, DocumentKey(otherID)); got != "kept" {
			t.Fatalf("other document reads %q", got)
		}
		var listed []string
		if err := s.List(ctx, func(i Info) error { listed = append(listed, i.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 || listed[0] != DocumentKey(otherID) {
			t.Fatalf("listed %v", listed)
		}
	})
}

func TestTrashDocumentRefusesBadIDs(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.TrashDocument(ctx, "../../etc", nil); err == nil {
			t.Fatal("non-uuid document id accepted")
		}
		if err := s.TrashDocument(ctx, docID, []string{"../x"}); err == nil {
			t.Fatal("non-uuid report id accepted")
		}
		// Nothing to move: nothing is made.
		if err := s.TrashDocument(ctx, docID, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckEmpty(ctx); err != nil {
			t.Fatalf("trashing nothing left something: %v", err)
		}
	})
}

func TestCheckEmptyAndList(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.CheckEmpty(ctx); err != nil {
			t.Fatalf("a new store: %v", err)
		}
		put(t, s, ReportKey(reportID, "html"), "<p>")
		put(t, s, DocumentKey(docID), "contract")
		if err := s.CheckEmpty(ctx); !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "documents/") {
			t.Fatalf("CheckEmpty with files: %v", err)
		}
		got := map[string]int64{}
		if err := s.List(ctx, func(i Info) error { got[i.Key] = i.Size; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[DocumentKey(docID)] != 8 || got[ReportKey(reportID, "html")] != 3 {
			t.Fatalf("listed %v", got)
		}
		// Only the trash left is still not empty (a backup may need it).
		if err := s.TrashDocument(ctx, docID, []string{reportID}); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckEmpty(ctx); !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("CheckEmpty with a trash: %v", err)
		}
	})
}

// The worker's tools read a local file; the S3 copy goes away on release,
// the filesystem's stored file never does.
func TestLocalFile(t *testing.T) {
	eachBackend(t, func(t *testing.T, s Store) {
		put(t, s, DocumentKey(docID), "%PDF-1.4 contract")
		p, release, err := s.LocalFile(context.Background(), DocumentKey(docID))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != "%PDF-1.4 contract" {
			t.Fatalf("local file %q %v", b, err)
		}
		release()
		_, err = os.Stat(p)
		if _, isS3 := s.(*S3); isS3 != errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("after release (s3 %v): %v", isS3, err)
		}
		if got := read(t, s.Open, DocumentKey(docID)); got != "%PDF-1.4 contract" {
			t.Fatalf("stored object after release: %q", got)
		}
	})
}

// What a killed process left (an old temporary file, an old incomplete
// multipart upload) is removed; what an upload in progress is writing is
// kept.
func TestRemoveStaleKeepsUploadsInProgress(t *testing.T) {
	t.Run("filesystem", func(t *testing.T) {
		s := newFS(t)
		stale := filepath.Join(s.Root(), tmpDir, tempPrefix+"1")
		live := filepath.Join(s.Root(), tmpDir, tempPrefix+"2")
		unrelated := filepath.Join(s.Root(), tmpDir, "notes.txt")
		for _, f := range []string{stale, live, unrelated} {
			os.WriteFile(f, []byte("partial"), 0o640)
		}
		old := time.Now().Add(-2 * time.Hour)
		os.Chtimes(stale, old, old)
		os.Chtimes(unrelated, old, old)
		if n, err := s.RemoveStale(context.Background(), time.Hour); err != nil || n != 1 {
			t.Fatalf("removed %d: %v", n, err)
		}
		if _, err := os.Stat(stale); !os.IsNotExist(err) {
			t.Fatalf("stale file kept: %v", err)
		}
		for _, f := range []string{live, unrelated} {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("%s removed: %v", f, err)
			}
		}
	})
	t.Run("s3", func(t *testing.T) {
		s := newS3(t)
		ctx := context.Background()
		if _, err := s.core.NewMultipartUpload(ctx, s.cfg.Bucket, s.cfg.Prefix+DocumentKey(docID), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.RemoveStale(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("a fresh upload: removed %d (%v)", n, err)
		}
		if left := leftovers(t, s); len(left) != 1 {
			t.Fatalf("incomplete uploads %v", left)
		}
		time.Sleep(1100 * time.Millisecond)
		if n, err := s.RemoveStale(ctx, time.Second); err != nil || n != 1 {
			t.Fatalf("an old upload: removed %d (%v)", n, err)
		}
		if left := leftovers(t, s); len(left) != 0 {
			t.Fatalf("incomplete uploads %v", left)
		}
	})
}
