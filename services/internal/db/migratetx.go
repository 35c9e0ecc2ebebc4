package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MigrateTx applies, inside tx, the pending migrations that want accepts
// (nil: all) and returns their names. It takes the migration lock for the
// rest of the transaction, so a backend starting meanwhile waits. Restore
// uses it to build the schema a backup was taken at, load the data and
// migrate forward in one transaction: a failure leaves nothing behind.
func MigrateTx(ctx context.Context, tx pgx.Tx, want func(name string) bool) ([]string, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, tx, all, want)
}
