package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/worker"
)

// retentionFixture inserts refresh tokens and audit events of every kind
// and returns the ids that must survive.
func retentionFixture(t *testing.T, e *env, oldEvents int) (keepTokens, keepEvents int) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	token := `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, rotated_at, revoked_at)
		SELECT $1, gen_random_uuid(), md5(random()::text || g), now() + $2::interval,
			CASE WHEN $3 THEN now() END, CASE WHEN $4 THEN now() END
		FROM generate_series(1, $5) g`
	exec(token, e.userID, "-1 hour", false, false, 1500) // expired
	exec(token, e.userID, "-1 day", true, true, 7)       // expired after rotation and revocation
	exec(token, e.userID, "6 days", false, false, 3)     // live
	exec(token, e.userID, "6 days", true, false, 2)      // rotated, not expired: reuse is still detected
	exec(token, e.userID, "6 days", false, true, 2)      // revoked, not expired
	event := `INSERT INTO audit_events (event_type, user_id, created_at) SELECT 'login_failed', $1, now() - $2::interval FROM generate_series(1, $3) g`
	exec(event, e.userID, "100 days", oldEvents)
	exec(event, e.userID, "91 days", 4)
	exec(event, e.userID, "89 days", 5)
	exec(event, e.userID, "1 minute", 6)
	return 3 + 2 + 2, 5 + 6
}

func countRows(t *testing.T, e *env) (tokens, events int) {
	t.Helper()
	if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM refresh_tokens), (SELECT count(*) FROM audit_events)`).
		Scan(&tokens, &events); err != nil {
		t.Fatal(err)
	}
	return tokens, events
}

// Several worker replicas run retention at once, in small batches: every
// expired token and every event past AUDIT_RETENTION_DAYS goes, nothing
// else, and none of them fails.
func TestRetentionDeletesExpiredTokensAndOldAuditEventsAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.cfg.AuditRetentionDays = 90
	keepTokens, keepEvents := retentionFixture(t, e, 2500)
	replicas := make([]*worker.Worker, 3)
	for i := range replicas {
		replicas[i] = e.newWorker(worker.Options{RetentionBatch: 100}, worker.Hooks{})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var deletedTokens, deletedEvents int64
	for _, w := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, ev, err := w.Retention(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			deletedTokens, deletedEvents = deletedTokens+tok, deletedEvents+ev
			mu.Unlock()
		}()
	}
	wg.Wait()
	tokens, events := countRows(t, e)
	if tokens != keepTokens || events != keepEvents || deletedTokens != 1507 || deletedEvents != 2504 {
		t.Fatalf("left %d tokens (want %d) and %d events (want %d); replicas reported %d and %d deleted",
			tokens, keepTokens, events, keepEvents, deletedTokens, deletedEvents)
	}
	var expired, old int
	if err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM refresh_tokens WHERE expires_at < now()),
		(SELECT count(*) FROM audit_events WHERE created_at < now() - interval '90 days')`).Scan(&expired, &old); err != nil || expired+old != 0 {
		t.Fatalf("%d expired tokens and %d old events left (%v)", expired, old, err)
	}
}

// The running worker does it by itself, periodically; AUDIT_RETENTION_DAYS=0
// keeps every audit event.
func TestRunningWorkerAppliesRetentionPeriodically(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	e.cfg.AuditRetentionDays = 0
	e.run(e.newWorker(worker.Options{RetentionInterval: 100 * time.Millisecond}, worker.Hooks{}))
	keepTokens, _ := retentionFixture(t, e, 10) // after the start: only a later pass sees them
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		tokens, events := countRows(t, e)
		if tokens == keepTokens {
			if events != 10+4+5+6 {
				t.Fatalf("AUDIT_RETENTION_DAYS=0 deleted audit events: %d left", events)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refresh tokens left, want %d", tokens, keepTokens)
		}
	}
}
