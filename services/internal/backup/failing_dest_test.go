package backup_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
)

// fullDisk is a real directory destination whose archive upload fails after
// some bytes, as a full volume or a dropped connection would.
type fullDisk struct{ backup.Destination }

func (f fullDisk) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if strings.HasSuffix(name, "/data.tar.gz") {
		io.CopyN(io.Discard, r, 64<<10)
		return errors.New("write /backups: no space left on device")
	}
	return f.Destination.Put(ctx, name, r, size)
}

// When the destination fails, create reports the destination's error (not
// a broken pipe) and leaves no backup behind.
func TestCreateReportsTheDestinationsErrorAndLeavesNothing(t *testing.T) {
	src := newInstance(t)
	populate(t, src, 3)
	dest := dirDest(t)
	_, err := backup.Create(context.Background(), src.pool, src.store, fullDisk{dest}, backup.Options{ChunkBytes: 16 << 10})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("create on a full disk: %v", err)
	}
	objs, err := dest.List(context.Background())
	if err != nil || len(objs) != 0 {
		t.Fatalf("left behind: %v %v", objs, err)
	}
}
