package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what the schema queries need: a pgx.Tx or a connection.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// derivedColumns are recomputed on restore rather than stored:
// clauses.embedding_vec mirrors clauses.embedding as a pgvector vector where
// that extension is in use (see services/internal/search).
var derivedColumns = map[string][]string{
	"clauses": {"embedding_vec"},
}

// skippedTables are not data: the migration runner rebuilds them.
var skippedTables = []string{"schema_migrations"}

// appTables lists the application tables of the current schema with their
// stored columns, parents before children (foreign keys), so a load in this
// order satisfies every constraint as it goes. Tables owned by an extension
// and generated or derived columns are left out.
func appTables(ctx context.Context, q querier) ([]Table, error) {
	rows, err := q.Query(ctx, `SELECT c.relname, a.attname
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d
		                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var tables []Table
	var name, col string
	if _, err := pgx.ForEachRow(rows, []any{&name, &col}, func() error {
		if slices.Contains(skippedTables, name) || slices.Contains(derivedColumns[name], col) {
			return nil
		}
		if len(tables) == 0 || tables[len(tables)-1].Name != name {
			tables = append(tables, Table{Name: name})
		}
		t := &tables[len(tables)-1]
		t.Columns = append(t.Columns, col)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT ch.relname, pa.relname
		FROM pg_constraint c
		JOIN pg_namespace n ON n.oid = c.connamespace
		JOIN pg_class ch ON ch.oid = c.conrelid
		JOIN pg_class pa ON pa.oid = c.confrelid
		WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	parents := map[string][]string{}
	var child, parent string
	if _, err := pgx.ForEachRow(rows, []any{&child, &parent}, func() error {
		parents[child] = append(parents[child], parent)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	return loadOrder(tables, parents)
}

// loadOrder sorts tables so every table comes after the tables its foreign
// keys reference (ties by name, so the order is stable). A self-reference
// is ignored; a cycle between tables is an error.
func loadOrder(tables []Table, parents map[string][]string) ([]Table, error) {
	byName := map[string]Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	pending := map[string]int{}
	children := map[string][]string{}
	for _, t := range tables {
		seen := map[string]bool{}
		for _, p := range parents[t.Name] {
			if _, ok := byName[p]; !ok || p == t.Name || seen[p] {
				continue
			}
			seen[p] = true
			pending[t.Name]++
			children[p] = append(children[p], t.Name)
		}
	}
	var ready, out []string
	for _, t := range tables {
		if pending[t.Name] == 0 {
			ready = append(ready, t.Name)
		}
	}
	for len(ready) > 0 {
		sort.Strings(ready)
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, c := range children[n] {
			if pending[c]--; pending[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	if len(out) != len(tables) {
		var cyclic []string
		for _, t := range tables {
			if pending[t.Name] > 0 {
				cyclic = append(cyclic, t.Name)
			}
		}
		return nil, fmt.Errorf("foreign keys form a cycle between tables %v: no load order exists", cyclic)
	}
	sorted := make([]Table, len(out))
	for i, n := range out {
		sorted[i] = byName[n]
	}
	return sorted, nil
}

// ownedSequences returns the sequences owned by columns of tables (serial
// and identity columns) with their current state.
func ownedSequences(ctx context.Context, q querier, tables []Table) ([]Sequence, error) {
	rows, err := q.Query(ctx, `SELECT s.relname, t.relname, a.attname
		FROM pg_class s
		JOIN pg_namespace n ON n.oid = s.relnamespace
		JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
		                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
		WHERE s.relkind = 'S' AND n.nspname = current_schema()
		ORDER BY s.relname`)
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Sequence, error) {
		var s Sequence
		return s, r.Scan(&s.Name, &s.Table, &s.Column)
	})
	if err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	var out []Sequence
	for _, s := range seqs {
		if !slices.ContainsFunc(tables, func(t Table) bool { return t.Name == s.Table }) {
			continue
		}
		if err := q.QueryRow(ctx, `SELECT last_value, is_called FROM `+pgx.Identifier{s.Name}.Sanitize()).
			Scan(&s.LastValue, &s.IsCalled); err != nil {
			return nil, fmt.Errorf("read sequence %s: %w", s.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// schemaMigrations returns the applied migrations in name order.
func schemaMigrations(ctx context.Context, q querier) ([]string, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if !exists {
		return nil, fmt.Errorf("the database has no schema_migrations table: it is not a migrated Contract Lucidity database")
	}
	rows, err := q.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
