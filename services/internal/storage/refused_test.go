package storage

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// The filesystem's counterpart of refused S3 credentials
// (TestS3BadCredentialsAreClearAndLoseNothing): a volume that stopped
// taking writes (remounted read-only). A write fails with an error naming
// the key and the cause, stores nothing, and what was stored stays
// readable.
func TestFilesystemRefusingWritesIsClearAndLosesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0750"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	s, err := NewFilesystem(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put(t, s, DocumentKey(otherID), "kept")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	_, err = s.Put(ctx, DocumentKey(docID), strings.NewReader("contract"), 8)
	if err == nil || !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), DocumentKey(docID)) {
		t.Fatalf("put on a read-only volume: %v, want an error naming the key and EROFS", err)
	}
	if NoSpace(err) || Unavailable(err) {
		t.Fatalf("a refused write taken for a full or unreachable store: %v", err)
	}
	if _, err := s.Stat(ctx, DocumentKey(docID)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused write stored something: %v", err)
	}
	if got := read(t, s.Open, DocumentKey(otherID)); got != "kept" {
		t.Fatalf("existing file reads %q", got)
	}
	if left := leftovers(t, s); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}
