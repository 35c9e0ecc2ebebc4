package backend_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// storedFiles lists the regular files under the storage's tmp and
// documents directories.
func storedFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"tmp", "documents"} {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.Type().IsRegular() {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// mountTmpfs mounts a tmpfs of the given size (e.g. "1m") on dir: a real
// file system that runs full, so the kernel answers ENOSPC. It needs
// CAP_SYS_ADMIN (root on a development machine).
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0750"); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// A full disk is the server's problem, not the client's: 507 with a
// readable message, logged as an error, counted, and nothing left behind.
func TestUploadOnFullDiskAnswers507AndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir, "1m")
	e := newEnv(t, func(c *config.Config) { c.StoragePath = dir })
	p := e.createProject(e.admin, "Full disk")
	big := append(append([]byte{}, pdfBytes...), bytes.Repeat([]byte("0"), 2<<20)...)
	r := e.upload(e.admin, p, "big.pdf", big).want(507)
	if !strings.Contains(r.detail(), "storage is full") {
		t.Fatalf("detail %q", r.detail())
	}
	if left := storedFiles(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	var n int
	e.db.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE project_id = $1`, p).Scan(&n)
	if n != 0 {
		t.Fatalf("%d document rows", n)
	}
	m := e.metrics()
	if !strings.Contains(m, `cl_upload_storage_errors_total{reason="no_space"} 1`) {
		t.Error("no_space not counted")
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"level":"ERROR","msg":"upload not stored: document storage is full"`) ||
		!strings.Contains(logs, "no space left on device") {
		t.Errorf("not logged as an error:\n%s", logs)
	}
	// Once there is room, uploads work again.
	e.upload(e.admin, p, "small.pdf", pdfBytes).want(202)
}

// At start-up the backend removes temporary upload files abandoned by a
// process that died (older than the longest possible upload), and keeps
// those an upload in progress (on any replica) may still be writing.
func TestStartupRemovesAbandonedUploadFiles(t *testing.T) {
	cfg := testConfig(t)
	tmp := filepath.Join(cfg.StoragePath, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		t.Fatal(err)
	}
	abandoned := filepath.Join(tmp, "upload-1234")
	live := filepath.Join(tmp, "upload-5678")
	unrelated := filepath.Join(tmp, "notes.txt")
	old := time.Now().Add(-backend.MaxUploadDuration - 2*time.Minute)
	for _, f := range []string{abandoned, live, unrelated} {
		if err := os.WriteFile(f, []byte("partial"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(abandoned, old, old)
	os.Chtimes(unrelated, old, old)
	startServer(t, cfg)
	if _, err := os.Stat(abandoned); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("abandoned upload file kept: %v", err)
	}
	for _, f := range []string{live, unrelated} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s removed: %v", f, err)
		}
	}
}

// When shutdown's grace period ends during an upload, the upload is
// aborted cleanly: the client is told to retry, the partial file is
// removed, and Serve returns without error.
func TestShutdownAbortsInFlightUploadsAndLeavesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.createProject(e.admin, "Restarting")
	// A second replica, served by Serve (graceful shutdown), on the same
	// database, Redis and storage.
	logs := &syncBuffer{}
	srv, err := backend.New(context.Background(), e.cfg, backend.Options{ShutdownGrace: 300 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	// A slow client, on a raw connection: the request announces 2 MiB,
	// sends the form and the first 256 KiB of the file, then nothing.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("project_id", p)
	fw, _ := mw.CreateFormFile("file", "slow.pdf")
	fw.Write(append(append([]byte{}, pdfBytes...), bytes.Repeat([]byte("0"), 2<<20)...))
	mw.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /api/documents HTTP/1.1\r\nHost: backend\r\nAuthorization: Bearer " + e.admin +
		"\r\nContent-Type: " + mw.FormDataContentType() + "\r\nContent-Length: " + strconv.Itoa(body.Len()) + "\r\n\r\n"
	if _, err := conn.Write(append([]byte(head), body.Bytes()[:256<<10]...)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(storedFiles(t, e.cfg.StoragePath)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached the storage")
		}
		time.Sleep(20 * time.Millisecond)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v\n%s", err, logs)
	}
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(answer), "upload the file again") {
		t.Fatalf("client got %d %v %s", resp.StatusCode, resp.Header, answer)
	}
	if left := storedFiles(t, e.cfg.StoragePath); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	var n int
	e.db.QueryRow(context.Background(), `SELECT count(*) FROM documents WHERE project_id = $1`, p).Scan(&n)
	if n != 0 {
		t.Fatalf("%d document rows", n)
	}
}
