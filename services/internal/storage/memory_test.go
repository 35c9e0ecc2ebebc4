package storage

import (
	"context"
	"io"
	"os"
	"runtime"
	"testing"
)

// patternReader yields n bytes of a fixed pattern without allocating.
type patternReader struct{ n int64 }

var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	n := copy(b, pattern[:min(int64(len(pattern)), p.n)])
	p.n -= int64(n)
	return n, nil
}

// allocated is the heap allocated while f runs (cumulative, so a buffer
// freed again still counts).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A 100 MiB document passes through each backend without being held in
// memory: storing it (size known or not), streaming it back and copying it
// to a local file (the worker's path) each allocate under 32 MiB in all
// (for S3 with the default 8 MiB parts: one part, and the garbage of
// signing each 64 KiB chunk).
func TestLargeObjectsStreamThroughBoundedMemory(t *testing.T) {
	const size = 100 << 20
	const bound = 32 << 20
	defaultParts := func(t *testing.T) Store {
		cfg := s3Config(t, seaweed)
		cfg.PartSize = 8 << 20 // STORAGE_S3_PART_SIZE_MB's default
		s, err := OpenS3(context.Background(), cfg, S3Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, b := range []struct {
		name string
		open func(*testing.T) Store
	}{{"filesystem", func(t *testing.T) Store { return newFS(t) }}, {"s3", defaultParts}} {
		t.Run(b.name, func(t *testing.T) { largeObjectsStream(t, b.open(t), size, bound) })
	}
}

func largeObjectsStream(t *testing.T, s Store, size int64, bound uint64) {
	ctx := context.Background()
	key := DocumentKey(docID)
	for _, declared := range []int64{-1, size} {
		var err error
		var n int64
		a := allocated(func() { n, err = s.Put(ctx, key, &patternReader{size}, declared) })
		if err != nil || n != size {
			t.Fatalf("put (size %d): %d bytes, %v", declared, n, err)
		}
		t.Logf("put (size %d): %.1f MiB allocated", declared, float64(a)/(1<<20))
		if a > bound {
			t.Errorf("storing 100 MiB (size %d) allocated %.1f MiB, want < 32 MiB", declared, float64(a)/(1<<20))
		}
	}
	var read int64
	a := allocated(func() {
		f, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if read, err = io.Copy(io.Discard, f); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("read: %.1f MiB allocated", float64(a)/(1<<20))
	if read != size || a > bound {
		t.Errorf("reading 100 MiB: %d bytes, %.1f MiB allocated, want < 32 MiB", read, float64(a)/(1<<20))
	}
	var path string
	a = allocated(func() {
		var release func()
		var err error
		if path, release, err = s.LocalFile(ctx, key); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
	})
	t.Logf("local file: %.1f MiB allocated", float64(a)/(1<<20))
	if st, err := os.Stat(path); err != nil || st.Size() != size || a > bound {
		t.Errorf("local copy of 100 MiB: %v %v, %.1f MiB allocated, want < 32 MiB", st, err, float64(a)/(1<<20))
	}
}
