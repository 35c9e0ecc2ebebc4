package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/secretbox"
)

// ReencryptResult counts what ReencryptProviderKeys did.
type ReencryptResult struct {
	Rewritten int      // re-sealed with the current key
	Current   int      // already sealed with the current key
	Failed    []string // ids of providers whose key no configured key opens
}

// reencryptLock is the advisory lock serialising re-encryption runs ("cl-renc").
const reencryptLock int64 = 0x636c2d72656e63

// ReencryptProviderKeys rewrites every stored AI provider key that is not
// sealed with the current ENCRYPTION_KEY (sealed with a previous key, or
// in the unversioned format) with the current key.
//
// It is idempotent (values already current are left alone) and safe to run
// from several processes at once: runs queue on an advisory lock, and a
// row is only replaced if it still holds the value that was decrypted, so
// an administrator saving a new key meanwhile is never overwritten.
// Run it after every replica has the new key (see README, key rotation):
// a process that knows only the old key cannot read the new values.
func ReencryptProviderKeys(ctx context.Context, pool *pgxpool.Pool, box *secretbox.Box) (ReencryptResult, error) {
	var res ReencryptResult
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, reencryptLock); err != nil {
		return res, fmt.Errorf("take re-encryption lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, reencryptLock); err != nil {
			conn.Conn().Close(uctx) // the session's end releases the lock
		}
	}()
	rows, err := conn.Query(ctx, `SELECT id::text, api_key_encrypted FROM ai_providers
		WHERE api_key_encrypted IS NOT NULL ORDER BY id`)
	if err != nil {
		return res, fmt.Errorf("read provider keys: %w", err)
	}
	type row struct {
		id     string
		sealed []byte
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.sealed)
		return x, err
	})
	if err != nil {
		return res, fmt.Errorf("read provider keys: %w", err)
	}
	for _, x := range all {
		out, changed, err := box.Reseal(x.sealed)
		switch {
		case err != nil:
			res.Failed = append(res.Failed, x.id)
			continue
		case !changed:
			res.Current++
			continue
		}
		tag, err := conn.Exec(ctx, `UPDATE ai_providers SET api_key_encrypted = $2
			WHERE id = $1 AND api_key_encrypted = $3`, x.id, out, x.sealed)
		if err != nil {
			return res, fmt.Errorf("rewrite provider %s: %w", x.id, err)
		}
		if tag.RowsAffected() == 1 {
			res.Rewritten++
		} else {
			res.Current++ // replaced meanwhile, by a value sealed with the current key
		}
	}
	return res, nil
}

// reportStaleCiphertexts tells the operator, at start, that stored keys
// still depend on a previous ENCRYPTION_KEY.
func (s *Server) reportStaleCiphertexts(ctx context.Context) {
	rows, err := s.pool.Query(ctx, `SELECT api_key_encrypted FROM ai_providers WHERE api_key_encrypted IS NOT NULL`)
	if err != nil {
		s.log.Warn("cannot check stored provider keys", "error", err)
		return
	}
	sealed, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		s.log.Warn("cannot check stored provider keys", "error", err)
		return
	}
	stale := 0
	for _, v := range sealed {
		if !s.box.Current(v) {
			stale++
		}
	}
	if stale > 0 {
		s.log.Info("stored AI provider keys are sealed with a previous or unversioned ENCRYPTION_KEY; run `contract-lucidity reencrypt` once every replica has the current key",
			"count", stale)
	}
}
