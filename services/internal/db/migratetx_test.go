package db

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// MigrateTx applies only the chosen migrations, inside the caller's
// transaction: a rollback leaves an empty database, and a later Migrate
// applies exactly the rest.
func TestMigrateTxAppliesChosenMigrationsInTheCallersTransaction(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(pg.NewDatabase(t))
	pool, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := Migrations()
	if err != nil || len(all) < 2 {
		t.Fatalf("migrations: %v %v", all, err)
	}
	first := all[0].Name
	only := func(name string) bool { return name == first }

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := MigrateTx(ctx, tx, only)
	if err != nil || !slices.Equal(applied, []string{first}) {
		t.Fatalf("applied %v (%v), want [%s]", applied, err, first)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("%d tables after rollback (%v)", tables, err)
	}

	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := MigrateTx(ctx, tx, only)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := Migrate(ctx, pool)
	if err != nil || len(rest) != len(all)-1 || slices.Contains(rest, first) {
		t.Fatalf("then Migrate applied %v (%v)", rest, err)
	}
}
