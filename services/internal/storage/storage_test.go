package storage

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPathRefusesEscapes(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"", "/etc/passwd", "../x", "documents/../../x", "..", `a\..\b`} {
		if _, err := s.Path(k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
	p, err := s.Path(DocumentKey("0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11"))
	if err != nil || !strings.HasPrefix(p, s.Root()+"/documents/") {
		t.Fatalf("got %s %v", p, err)
	}
}

func TestCommitOpenRemove(t *testing.T) {
	s, _ := New(t.TempDir())
	id := "0b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e11"
	f, err := s.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("contract")
	f.Close()
	if err := s.Commit(f.Name(), DocumentKey(id)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(DocumentKey(id))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "contract" {
		t.Fatalf("read %q", b)
	}
	if err := s.RemoveDocument(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(DocumentKey(id)); !os.IsNotExist(err) {
		t.Fatalf("file still there: %v", err)
	}
	if err := s.RemoveDocument("../../etc"); err == nil {
		t.Fatal("non-uuid document id accepted")
	}
}

func TestRemoveStaleTempKeepsFilesBeingWritten(t *testing.T) {
	s, _ := New(t.TempDir())
	stale, _ := s.TempFile()
	stale.Close()
	live, _ := s.TempFile()
	defer live.Close()
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale.Name(), old, old)
	n, err := s.RemoveStaleTemp(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("removed %d: %v", n, err)
	}
	if _, err := os.Stat(stale.Name()); !os.IsNotExist(err) {
		t.Fatalf("stale file kept: %v", err)
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Fatalf("live file removed: %v", err)
	}
}
