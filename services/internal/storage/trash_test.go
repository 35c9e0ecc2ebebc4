package storage

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func put(t *testing.T, s *Store, key, content string) {
	t.Helper()
	if err := s.Write(key, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, open func(string) (*os.File, error), key string) string {
	t.Helper()
	f, err := open(key)
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

// A deleted document's files leave their keys at once but stay readable for
// a backup from the trash until the grace period is over.
func TestTrashDocumentKeepsFilesUntilPurged(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc, rep, other := "0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11", "1c6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e12", "2d6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e13"
	put(t, s, DocumentKey(doc), "contract")
	put(t, s, ReportKey(rep, "html"), "<h1>report</h1>")
	put(t, s, DocumentKey(other), "kept")

	if err := s.TrashDocument(doc, []string{rep}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(DocumentKey(doc)); !os.IsNotExist(err) {
		t.Fatalf("document still at its key: %v", err)
	}
	if _, err := s.Open(ReportKey(rep, "html")); !os.IsNotExist(err) {
		t.Fatalf("report still at its key: %v", err)
	}
	if got := read(t, s.OpenIncludingTrash, DocumentKey(doc)); got != "contract" {
		t.Fatalf("trashed document reads %q", got)
	}
	if got := read(t, s.OpenIncludingTrash, ReportKey(rep, "html")); got != "<h1>report</h1>" {
		t.Fatalf("trashed report reads %q", got)
	}
	if got := read(t, s.OpenIncludingTrash, DocumentKey(other)); got != "kept" {
		t.Fatalf("live document reads %q", got)
	}
	if _, err := s.OpenIncludingTrash(ReportKey(rep, "pdf")); !os.IsNotExist(err) {
		t.Fatalf("a file that never existed: %v", err)
	}

	// Not yet expired: nothing goes.
	if n, err := s.PurgeTrash(time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of fresh trash removed %d (%v)", n, err)
	}
	if _, err := s.OpenIncludingTrash(DocumentKey(doc)); err != nil {
		t.Fatal(err)
	}
	// A foreign entry without a time prefix is never touched.
	os.MkdirAll(filepath.Join(s.Root(), "trash", "keep-me"), 0o750)
	if n, err := s.PurgeTrash(time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge removed %d entries (%v), want 1", n, err)
	}
	if _, err := s.OpenIncludingTrash(DocumentKey(doc)); !os.IsNotExist(err) {
		t.Fatalf("purged document still readable: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "trash", "keep-me")); err != nil {
		t.Fatalf("foreign trash entry removed: %v", err)
	}
	if got := read(t, s.Open, DocumentKey(other)); got != "kept" {
		t.Fatalf("other document reads %q", got)
	}
}

func TestTrashDocumentRefusesBadIDs(t *testing.T) {
	s, _ := New(t.TempDir())
	if err := s.TrashDocument("../../etc", nil); err == nil {
		t.Fatal("non-uuid document id accepted")
	}
	if err := s.TrashDocument("0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11", []string{"../x"}); err == nil {
		t.Fatal("non-uuid report id accepted")
	}
	// Nothing to move: no empty entry is left behind.
	if err := s.TrashDocument("0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11", nil); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(filepath.Join(s.Root(), "trash")); len(es) != 0 {
		t.Fatalf("empty trash entries: %v", es)
	}
}
