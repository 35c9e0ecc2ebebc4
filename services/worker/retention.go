package worker

import (
	"context"
	"fmt"
	"time"
)

// Retention removes rows that only grow: refresh tokens once they have
// expired (rotated and revoked ones too: until then a reused copy is still
// detected) and audit events older than AUDIT_RETENTION_DAYS (0 keeps them).
// Deletes run in batches of Options.RetentionBatch rows, each its own short
// statement; rows another replica is deleting are skipped (SKIP LOCKED), so
// several workers may run it at once.
func (w *Worker) Retention(ctx context.Context) (tokens, events int64, err error) {
	tokens, err = w.deleteBatches(ctx, `DELETE FROM refresh_tokens WHERE id IN (
		SELECT id FROM refresh_tokens WHERE expires_at < now()
		ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`)
	if err != nil {
		return tokens, 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	if days := w.cfg.AuditRetentionDays; days > 0 {
		events, err = w.deleteBatches(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE created_at < now() - make_interval(days => $2)
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)`, days)
		if err != nil {
			return tokens, events, fmt.Errorf("delete old audit events: %w", err)
		}
	}
	return tokens, events, nil
}

// deleteBatches runs a DELETE taking the batch size as $1 until a batch
// deletes fewer rows than that.
func (w *Worker) deleteBatches(ctx context.Context, sql string, args ...any) (int64, error) {
	var total int64
	for {
		tag, err := w.pool.Exec(ctx, sql, append([]any{w.opts.RetentionBatch}, args...)...)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(w.opts.RetentionBatch) {
			return total, nil
		}
	}
}

// retentionLoop runs Retention at start and every Options.RetentionInterval.
func (w *Worker) retentionLoop(ctx context.Context) {
	for {
		start := time.Now()
		tokens, events, err := w.Retention(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("retention failed", "error", err)
		}
		if tokens > 0 || events > 0 {
			w.log.Info("retention deleted old rows", "refresh_tokens", tokens, "audit_events", events,
				"seconds", time.Since(start).Seconds())
		}
		if !sleep(ctx, w.opts.RetentionInterval) {
			return
		}
	}
}
