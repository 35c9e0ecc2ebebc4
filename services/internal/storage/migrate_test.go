package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

// failingStore fails the nth Put (an interrupted migration).
type failingStore struct {
	Store
	n int
}

func (f *failingStore) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	if f.n--; f.n == 0 {
		io.CopyN(io.Discard, r, size/2)
		return 0, errors.New("connection reset")
	}
	return f.Store.Put(ctx, key, r, size)
}

func contents(t *testing.T, s Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.List(context.Background(), func(i Info) error {
		out[i.Key] = read(t, s.Open, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Migrating the filesystem to S3 copies every document and report and
// verifies it; an interrupted run is resumed by running it again, a second
// complete run copies nothing, a different file at a key in the target is
// never overwritten, and checksums that disagree with the database are
// reported.
func TestMigrateFilesystemToS3(t *testing.T) {
	ctx := context.Background()
	from, to := newFS(t), newS3(t)
	ids := []string{docID, otherID, "3e6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e14", "4f6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e15"}
	want := map[string]string{}
	expected := map[string]string{}
	for i, id := range ids {
		body := string(randomBytes(1<<20 + i))
		put(t, from, DocumentKey(id), body)
		want[DocumentKey(id)] = body
		sum := sha256.Sum256([]byte(body))
		expected[DocumentKey(id)] = hex.EncodeToString(sum[:])
	}
	put(t, from, ReportKey(reportID, "html"), "<h1>report</h1>")
	want[ReportKey(reportID, "html")] = "<h1>report</h1>"
	put(t, from, ReportKey(reportID, "pdf"), "%PDF report")
	want[ReportKey(reportID, "pdf")] = "%PDF report"
	// The trash is not migrated.
	put(t, from, DocumentKey("5a6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e16"), "deleted")
	if err := from.TrashDocument(ctx, "5a6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e16", nil); err != nil {
		t.Fatal(err)
	}
	expected[DocumentKey(otherID)] = "0000" // the database says otherwise
	missing := DocumentKey("6b6c3c1e-8a57-4b8e-9d7c-2f1f3b0a9e17")
	opts := MigrateOptions{Expected: expected, Referenced: append(keysOf(want), missing)}

	// Interrupted at the fourth file.
	if _, err := Migrate(ctx, from, &failingStore{Store: to, n: 4}, opts); err == nil {
		t.Fatal("the interrupted run succeeded")
	}
	if got := len(contents(t, to)); got != 3 {
		t.Fatalf("%d files in the target after three copies", got)
	}
	if left := leftovers(t, to); len(left) != 0 {
		t.Fatalf("the interrupted copy left %v", left)
	}
	res, err := Migrate(ctx, from, to, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != len(want) || res.Copied != len(want)-3 || res.Present != 3 {
		t.Fatalf("resumed run: %+v", res)
	}
	if !slices.Equal(res.Mismatched, []string{DocumentKey(otherID)}) || !slices.Equal(res.Missing, []string{missing}) {
		t.Fatalf("mismatched %v, missing %v", res.Mismatched, res.Missing)
	}
	if got := contents(t, to); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("target holds %d files, want %d (or other content)", len(got), len(want))
	}
	res, err = Migrate(ctx, from, to, opts)
	if err != nil || res.Copied != 0 || res.Present != len(want) {
		t.Fatalf("second run: %+v %v", res, err)
	}

	// A file that is different in the target is left alone.
	put(t, to, ReportKey(reportID, "pdf"), "%PDF regenerated after the switch")
	res, err = Migrate(ctx, from, to, opts)
	if !errors.Is(err, ErrConflict) || !slices.Equal(res.Conflicts, []string{ReportKey(reportID, "pdf")}) {
		t.Fatalf("conflict: %+v %v", res, err)
	}
	if got := read(t, to.Open, ReportKey(reportID, "pdf")); got != "%PDF regenerated after the switch" {
		t.Fatalf("the target's file was overwritten: %q", got)
	}

	// And back: S3 to a filesystem.
	back := newFS(t)
	if _, err := Migrate(ctx, to, back, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, back), contents(t, to); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("S3 to filesystem: contents differ")
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
