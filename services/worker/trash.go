package worker

import (
	"context"
	"time"
)

// trashLoop purges files of deleted documents from the storage trash once
// they are older than STORAGE_TRASH_RETENTION (the grace period that lets a
// running backup copy files its snapshot still references). Every worker
// replica runs it; removing an entry twice is harmless.
func (w *Worker) trashLoop(ctx context.Context) {
	retention := w.cfg.StorageTrashRetention
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	interval := min(max(retention/4, time.Second), 10*time.Minute)
	for sleep(ctx, interval) {
		if n, err := w.store.PurgeTrash(ctx, time.Now().Add(-retention)); err != nil {
			w.log.Warn("trash purge failed", "error", err)
		} else if n > 0 {
			w.log.Info("trash purged", "entries", n)
		}
	}
}
