package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

var pg *testenv.Postgres

func TestMain(m *testing.M) {
	var err error
	pg, err = testenv.StartPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func testConfig(url string) *config.Config {
	return &config.Config{DatabaseURL: url, BcryptCost: 4, MaxUploadSizeMB: 100,
		InitialAdminEmail: "admin@example.com", InitialAdminPassword: "Initial-Passw0rd!"}
}

func TestConcurrentSetupAppliesEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(pg.NewDatabase(t))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	applied := make([][]string, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := Open(ctx, cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied[i], errs[i] = Setup(ctx, pool, cfg)
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		total += len(applied[i])
	}
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if total != len(all) {
		t.Fatalf("applied %d migrations in total across replicas, want %d", total, len(all))
	}
	pool, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, admins, projects, members, caps int
	var mustChange bool
	var types string
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := pool.QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q("SELECT count(*) FROM schema_migrations", &n)
	q("SELECT count(*), bool_and(must_change_password) FROM users WHERE role = 'admin'", &admins, &mustChange)
	q("SELECT count(*) FROM projects", &projects)
	q("SELECT count(*) FROM project_members pm JOIN users u ON u.id = pm.user_id WHERE u.email = 'admin@example.com' AND pm.role = 'admin'", &members)
	q("SELECT count(*) FROM ai_capability_mappings", &caps)
	q("SELECT value::text FROM system_config WHERE key = 'supported_file_types'", &types)
	if n != len(all) || admins != 1 || !mustChange || projects != 1 || members != 1 || caps != 5 {
		t.Fatalf("migrations=%d admins=%d mustChange=%v projects=%d members=%d caps=%d", n, admins, mustChange, projects, members, caps)
	}
	if types != `["pdf", "docx", "png", "jpg", "jpeg", "tiff"]` {
		t.Fatalf("supported_file_types = %s", types)
	}
}

func TestSeedDoesNotRecreateRemovedDefaults(t *testing.T) {
	ctx := context.Background()
	pool, cfg := setupDatabase(t)
	if _, err := pool.Exec(ctx, "DELETE FROM projects; UPDATE system_config SET value = '[\"pdf\"]' WHERE key = 'supported_file_types'; UPDATE users SET email = 'renamed@example.com'"); err != nil {
		t.Fatal(err)
	}
	applied, err := Setup(ctx, pool, cfg)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second setup applied %v, %v", applied, err)
	}
	var projects, users int
	var types string
	pool.QueryRow(ctx, "SELECT count(*) FROM users").Scan(&users)
	if users != 1 {
		t.Fatalf("initial admin re-created after an email change: %d users", users)
	}
	pool.QueryRow(ctx, "SELECT count(*) FROM projects").Scan(&projects)
	pool.QueryRow(ctx, "SELECT value::text FROM system_config WHERE key = 'supported_file_types'").Scan(&types)
	if projects != 0 || types != `["pdf"]` {
		t.Fatalf("seed overwrote admin changes: projects=%d types=%s", projects, types)
	}
}

// setupDatabase opens a new database and runs Setup (migrations and seed).
func setupDatabase(t *testing.T) (*pgxpool.Pool, *config.Config) {
	t.Helper()
	cfg := testConfig(pg.NewDatabase(t))
	pool, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := Setup(context.Background(), pool, cfg); err != nil {
		t.Fatal(err)
	}
	return pool, cfg
}

func TestOpenErrorDoesNotLeakPassword(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, &config.Config{DatabaseURL: "postgres://u:s3cr3t-pw@127.0.0.1:1/x?connect_timeout=1"})
	if err == nil {
		t.Fatal("expected an error")
	}
	if s := err.Error(); contains(s, "s3cr3t-pw") {
		t.Fatalf("error leaks password: %s", s)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestClauseCountFollowsClauseWrites(t *testing.T) {
	ctx := context.Background()
	pool, _ := setupDatabase(t)
	var doc string
	err := pool.QueryRow(ctx, `WITH p AS (INSERT INTO projects (name) VALUES ('p') RETURNING id)
		INSERT INTO documents (project_id, original_name, file_type, size_bytes, sha256, storage_key)
		SELECT id, 'a.pdf', 'pdf', 1, 'x', 'k' FROM p RETURNING id`).Scan(&doc)
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT clause_count FROM documents WHERE id = $1`, doc).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	insert := `INSERT INTO clauses (document_id, ordinal, category, text, risk_level)
		SELECT $1, g, 'Other', 'text', 'low' FROM generate_series(1, $2::int) g`
	if _, err := pool.Exec(ctx, insert, doc, 7); err != nil || count() != 7 {
		t.Fatalf("after insert: %d %v", count(), err)
	}
	// The worker's idempotent rewrite: delete + insert in one transaction.
	tx, _ := pool.Begin(ctx)
	tx.Exec(ctx, `DELETE FROM clauses WHERE document_id = $1`, doc)
	tx.Exec(ctx, insert, doc, 3)
	if err := tx.Commit(ctx); err != nil || count() != 3 {
		t.Fatalf("after rewrite: %d %v", count(), err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM clauses WHERE document_id = $1 AND ordinal = 1`, doc); err != nil || count() != 2 {
		t.Fatalf("after delete: %d %v", count(), err)
	}
}

func TestMigrateRecordsChecksumsAndVerifyAccepts(t *testing.T) {
	ctx := context.Background()
	pool, _ := setupDatabase(t)
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		var sum string
		if err := pool.QueryRow(ctx, `SELECT checksum FROM schema_migrations WHERE name = $1`, m.Name).Scan(&sum); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		want := sha256.Sum256([]byte(m.SQL))
		if sum != hex.EncodeToString(want[:]) {
			t.Errorf("%s: checksum %s, want sha256 of the file", m.Name, sum)
		}
	}
	if err := Verify(ctx, pool); err != nil {
		t.Fatalf("Verify after Setup: %v", err)
	}
}

func TestChangedMigrationIsRefused(t *testing.T) {
	ctx := context.Background()
	pool, cfg := setupDatabase(t)
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// This binary's copy of an applied migration differs from what ran.
	edited := slices.Clone(all)
	for i, m := range edited {
		if m.Name == "0002_playbook" {
			edited[i] = newMigration(m.Name, m.SQL+"\nDELETE FROM playbook_rules;\n")
		}
	}
	check := func(label string, err error) {
		t.Helper()
		if !errors.Is(err, ErrMigrationChanged) || !strings.Contains(err.Error(), "0002_playbook") ||
			!strings.Contains(err.Error(), "new migration") {
			t.Fatalf("%s: got %v, want ErrMigrationChanged naming 0002_playbook and what to do", label, err)
		}
	}
	check("verify", verify(ctx, pool, edited))
	err = withLock(ctx, pool, func(conn *pgx.Conn) error { _, err := migrate(ctx, conn, edited, nil); return err })
	check("migrate", err)
	var rules int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM playbook_rules`).Scan(&rules); err != nil || rules == 0 {
		t.Fatalf("the edited migration ran: %d rules, %v", rules, err)
	}
	// The same from the database's side: a recorded checksum that no file has.
	if _, err := pool.Exec(ctx, `UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE name = '0002_playbook'`); err != nil {
		t.Fatal(err)
	}
	check("Verify", Verify(ctx, pool))
	_, err = Setup(ctx, pool, cfg)
	check("Setup", err)
}

func TestDatabaseNewerThanBinaryIsRefused(t *testing.T) {
	ctx := context.Background()
	pool, cfg := setupDatabase(t)
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (name, checksum) VALUES ('9999_from_the_future', 'abc')`); err != nil {
		t.Fatal(err)
	}
	for label, err := range map[string]error{"Verify": Verify(ctx, pool), "Setup": second(Setup(ctx, pool, cfg))} {
		if !errors.Is(err, ErrDatabaseNewer) || !strings.Contains(err.Error(), "9999_from_the_future") {
			t.Fatalf("%s: got %v, want ErrDatabaseNewer naming the unknown migration", label, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestVerifyRefusesAnUnmigratedDatabaseAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(pg.NewDatabase(t))
	pool, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = Verify(ctx, pool)
	if !errors.Is(err, ErrNotMigrated) || !strings.Contains(err.Error(), "contract-lucidity migrate") {
		t.Fatalf("empty database: %v", err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Fatalf("Verify created schema_migrations (%v, %v)", exists, err)
	}
	if _, err := Setup(ctx, pool, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM schema_migrations WHERE name = '0003_clause_embedding_model'`); err != nil {
		t.Fatal(err)
	}
	err = Verify(ctx, pool)
	if !errors.Is(err, ErrNotMigrated) || !strings.Contains(err.Error(), "0003_clause_embedding_model") {
		t.Fatalf("pending migration: %v", err)
	}
}

// A database migrated before checksums existed (schema_migrations without
// the column) is upgraded in place by the first migrate of this version.
func TestSchemaMigrationsWithoutChecksumsIsUpgradedInPlace(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(pg.NewDatabase(t))
	pool, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// The previous runner: its table, and every migration but the last.
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all[:len(all)-1] {
		if _, err := pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := Verify(ctx, pool); !errors.Is(err, ErrNotMigrated) {
		t.Fatalf("Verify before the upgrade: %v, want ErrNotMigrated", err)
	}
	applied, err := Setup(ctx, pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || applied[0] != all[len(all)-1].Name {
		t.Fatalf("applied %v, want only %s", applied, all[len(all)-1].Name)
	}
	var missing int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE checksum IS NULL`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d migrations without a checksum after the upgrade (%v)", missing, err)
	}
	if err := Verify(ctx, pool); err != nil {
		t.Fatalf("Verify after the upgrade: %v", err)
	}
}

// Backends starting together on a database the operator's Job migrated
// create one admin and none of them fails.
func TestConcurrentSeedCreatesOneAdmin(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(pg.NewDatabase(t))
	cfg.BcryptCost = 10 // hashing between the "no users yet" check and the insert
	pool, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// What the operator's migrate Job leaves: settings seeded, no admin.
	jobCfg := *cfg
	jobCfg.InitialAdminPassword = ""
	if _, err := Setup(ctx, pool, &jobCfg); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- Seed(ctx, pool, cfg) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var admins, projects int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM projects)`).Scan(&admins, &projects); err != nil {
		t.Fatal(err)
	}
	if admins != 1 || projects != 1 {
		t.Fatalf("%d users and %d projects after concurrent seeds, want 1 and 1", admins, projects)
	}
}

// A new installation's playbook is the analyser's default rules, word for
// word (0002 inserts them; later migrations correct their wording).
func TestMigratedPlaybookIsTheDefaultRules(t *testing.T) {
	pool, _ := setupDatabase(t)
	rows, err := pool.Query(context.Background(),
		`SELECT category, pattern, explanation, fallback_wording FROM playbook_rules WHERE project_id IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var category, pattern, explanation, fallback string
		if err := rows.Scan(&category, &pattern, &explanation, &fallback); err != nil {
			t.Fatal(err)
		}
		got[category+"\x00"+pattern] = explanation
		for _, british := range []string{"favour", "wilful", "licence", "analys", "organis"} {
			if strings.Contains(explanation+fallback, british) {
				t.Errorf("%s rule: British spelling %q in %q / %q", category, british, explanation, fallback)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rules := analysis.DefaultRules()
	if len(got) != len(rules) {
		t.Fatalf("%d installation rules, want the %d defaults", len(got), len(rules))
	}
	for _, r := range rules {
		if e, ok := got[r.Category+"\x00"+r.Pattern]; !ok || e != r.Explanation {
			t.Errorf("%s rule %q: explanation %q, want %q", r.Category, r.Pattern, e, r.Explanation)
		}
	}
}
