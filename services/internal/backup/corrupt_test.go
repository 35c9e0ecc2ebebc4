package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
)

// A damaged backup is refused, by verify and by restore, with a clear
// error, and the restore target stays empty.
func TestCorruptBackupIsRefusedAndNothingIsWritten(t *testing.T) {
	src := newInstance(t)
	populate(t, src, 4)
	root := t.TempDir()
	dest, err := backup.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := create(t, src, dest)
	if _, err := backup.Verify(context.Background(), dest, m.ID); err != nil {
		t.Fatalf("the intact backup: %v", err)
	}
	archive, err := os.ReadFile(filepath.Join(root, m.ID, "data.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(root, m.ID, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		damage func(archive, manifest []byte) ([]byte, []byte)
		want   string
	}{
		{"a byte flipped in the middle", func(a, m []byte) ([]byte, []byte) {
			a = bytes.Clone(a)
			a[len(a)/2] ^= 0x5a
			return a, m
		}, "corrupt"},
		{"truncated to half", func(a, m []byte) ([]byte, []byte) { return a[:len(a)/2], m }, "truncated"},
		{"the last bytes cut off", func(a, m []byte) ([]byte, []byte) { return a[:len(a)-6], m }, "corrupt"},
		{"a file member changed, archive checksum updated to match", func(a, m []byte) ([]byte, []byte) {
			a = rewriteMember(t, a, "files/")
			return a, withArchive(t, m, a)
		}, "does not match its sha256"},
		{"a row count changed in the manifest", func(a, m []byte) ([]byte, []byte) {
			var man map[string]any
			json.Unmarshal(m, &man)
			tables := man["tables"].([]any)
			tables[0].(map[string]any)["rows"] = tables[0].(map[string]any)["rows"].(float64) + 1
			m, _ = json.Marshal(man)
			return a, m
		}, "differs"},
		{"the manifest is not JSON", func(a, m []byte) ([]byte, []byte) { return a, m[:len(m)/2] }, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			droot := t.TempDir()
			a, man := c.damage(archive, manifest)
			os.MkdirAll(filepath.Join(droot, m.ID), 0o750)
			os.WriteFile(filepath.Join(droot, m.ID, "data.tar.gz"), a, 0o640)
			os.WriteFile(filepath.Join(droot, m.ID, "manifest.json"), man, 0o640)
			d, err := backup.Open(droot, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = backup.Verify(context.Background(), d, m.ID)
			if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v (want ErrCorrupt mentioning %q)", err, c.want)
			}
			dst := emptyInstance(t)
			_, err = restore(dst, d, m.ID)
			if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), m.ID) {
				t.Fatalf("restore: %v (want ErrCorrupt naming the backup)", err)
			}
			t.Logf("restore refused: %v", err)
			assertEmpty(t, dst)
		})
	}

	t.Run("no manifest yet (in progress or died)", func(t *testing.T) {
		droot := t.TempDir()
		os.MkdirAll(filepath.Join(droot, m.ID), 0o750)
		os.WriteFile(filepath.Join(droot, m.ID, "started.json"), []byte(`{}`), 0o640)
		os.WriteFile(filepath.Join(droot, m.ID, "data.tar.gz"), archive, 0o640)
		d, _ := backup.Open(droot, nil)
		dst := emptyInstance(t)
		if _, err := restore(dst, d, m.ID); !errors.Is(err, backup.ErrIncomplete) {
			t.Fatalf("restore of an incomplete backup: %v", err)
		}
		assertEmpty(t, dst)
	})
}

// rewriteMember changes one byte of the first member whose name starts with
// prefix and returns the re-compressed archive.
func rewriteMember(t *testing.T, archive []byte, prefix string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	done := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if !done && strings.HasPrefix(hdr.Name, prefix) && len(b) > 0 {
			b[len(b)/2] ^= 1
			done = true
		}
		tw.WriteHeader(hdr)
		tw.Write(b)
	}
	tw.Close()
	gw.Close()
	if !done {
		t.Fatalf("no member %s*", prefix)
	}
	return out.Bytes()
}

// withArchive updates manifest.json's archive size and sha256 to a.
func withArchive(t *testing.T, manifest, a []byte) []byte {
	t.Helper()
	var man map[string]any
	if err := json.Unmarshal(manifest, &man); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a)
	arch := man["archive"].(map[string]any)
	arch["size"], arch["sha256"] = len(a), hex.EncodeToString(sum[:])
	out, _ := json.Marshal(man)
	return out
}
