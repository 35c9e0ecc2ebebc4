// Package search stores clause embeddings and finds similar clauses.
//
// Embeddings always live in clauses.embedding (real[], any PostgreSQL). When
// the pgvector extension is available, the migrate command (db.EnableVector)
// adds clauses.embedding_vec vector(384) with an HNSW index (cosine); then
// StoreEmbeddings fills both columns and searches order by the index,
// otherwise an exact cosine scan over real[] runs in SQL. Both paths return
// the same results (embeddings are L2-normalised, so cosine similarity is
// the dot product). This package only reads which path is in use (HasVector).
package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dim is the embedding dimension used everywhere.
const Dim = 384

// DB is what the package needs from a *pgxpool.Pool, *pgx.Conn or pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// HasVector reports whether clauses.embedding_vec exists (pgvector in use).
func HasVector(ctx context.Context, db DB) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
		WHERE attrelid = to_regclass('clauses') AND attname = 'embedding_vec' AND NOT attisdropped)`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check embedding_vec: %w", err)
	}
	return ok, nil
}

// Embedding is one clause's vector and the embedder that made it
// (analysis.EmbedderVersion, or a provider's label).
type Embedding struct {
	ClauseID string
	Vector   []float32
	Model    string
}

// StoreEmbeddings writes clause embeddings to clauses.embedding and, when
// pgvector is in use, clauses.embedding_vec. Use it inside the transaction
// that inserts the clauses.
func StoreEmbeddings(ctx context.Context, db DB, items []Embedding) error {
	if len(items) == 0 {
		return nil
	}
	vec, err := HasVector(ctx, db)
	if err != nil {
		return err
	}
	q := `UPDATE clauses SET embedding = $2::real[], embedding_model = $3 WHERE id = $1`
	if vec {
		q = fmt.Sprintf(`UPDATE clauses SET embedding = $2::real[], embedding_model = $3, embedding_vec = $2::real[]::vector(%d) WHERE id = $1`, Dim)
	}
	for _, it := range items {
		if err := checkVector(it.Vector); err != nil {
			return fmt.Errorf("store embedding of clause %s: %w", it.ClauseID, err)
		}
		tag, err := db.Exec(ctx, q, it.ClauseID, it.Vector, it.Model)
		if err != nil {
			return fmt.Errorf("store embedding of clause %s: %w", it.ClauseID, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("store embedding: clause %s not found", it.ClauseID)
		}
	}
	return nil
}

func checkVector(v []float32) error {
	if len(v) != Dim {
		return fmt.Errorf("embedding has %d dimensions, want %d", len(v), Dim)
	}
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return errors.New("embedding contains NaN or Inf")
		}
	}
	return nil
}

// Scope limits a search to the projects a caller may see.
type Scope struct {
	All        bool     // every project (system admins)
	ProjectIDs []string // otherwise only these
}

// AllProjects is the scope of a system admin.
func AllProjects() Scope { return Scope{All: true} }

// Projects is the scope of a user who may see the given projects.
func Projects(ids ...string) Scope { return Scope{ProjectIDs: ids} }

// Result is a similar clause with its document and similarity score
// (cosine similarity, 1 = identical direction).
type Result struct {
	ClauseID     string
	DocumentID   string
	ProjectID    string
	DocumentName string
	Ordinal      int
	Heading      string
	Category     string
	Confidence   float64
	Text         string
	RiskLevel    string
	Explanation  string
	Score        float64
}

// MinSimilarity is the floor of the similar clauses shown to people: below
// it a neighbour is about as likely unrelated as not. Measured with the
// offline embedder on the CUAD test split (hack/classifier embed-eval):
// above 0.4 the nearest labelled clause shares the query's category 82% of
// the time (a third of the clauses have such a neighbour), above 0.5 94%
// (a tenth have one). 0.4 keeps most useful neighbours.
const MinSimilarity = 0.4

// ErrNotFound is returned by Similar for an unknown clause.
var ErrNotFound = errors.New("clause not found")

// Similar returns up to limit clauses most similar to the given clause, from
// other documents within scope and with vectors of the same embedder, best
// first. A clause without an embedding has no neighbours (empty result).
func Similar(ctx context.Context, db DB, clauseID string, scope Scope, limit int) ([]Result, error) {
	var docID, model string
	var emb []float32
	err := db.QueryRow(ctx, `SELECT document_id::text, embedding, embedding_model FROM clauses WHERE id = $1`, clauseID).Scan(&docID, &emb, &model)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load clause %s: %w", clauseID, err)
	}
	if len(emb) != Dim {
		return []Result{}, nil
	}
	return SimilarToVector(ctx, db, emb, model, scope, limit, docID)
}

// Related returns up to limit clauses similar to the given clause, as
// Similar, but only those at or above MinSimilarity, and those of the
// clause's own category first (each group best first): what a reviewer
// compares a clause with.
func Related(ctx context.Context, db DB, clauseID string, scope Scope, limit int) ([]Result, error) {
	var category string
	err := db.QueryRow(ctx, `SELECT category FROM clauses WHERE id = $1`, clauseID).Scan(&category)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load clause %s: %w", clauseID, err)
	}
	// Candidates beyond limit, so same-category clauses a little further
	// away can come first.
	found, err := Similar(ctx, db, clauseID, scope, min(max(4*limit, 20), 200))
	if err != nil {
		return nil, err
	}
	out := found[:0]
	for _, r := range found {
		if r.Score >= MinSimilarity {
			out = append(out, r)
		}
	}
	same := func(r Result) bool { return category != "Other" && r.Category == category }
	sort.SliceStable(out, func(i, j int) bool { return same(out[i]) && !same(out[j]) })
	return out[:min(limit, len(out))], nil
}

// SimilarToVector returns up to limit clauses within scope most similar to
// vec (an L2-normalised 384-dimensional vector of the embedder model, e.g.
// an embedded query), best first, skipping clauses of excludeDocumentID
// (may be "") and clauses embedded by another embedder.
func SimilarToVector(ctx context.Context, db DB, vec []float32, model string, scope Scope, limit int, excludeDocumentID string) ([]Result, error) {
	vecOK, err := HasVector(ctx, db)
	if err != nil {
		return nil, err
	}
	return similar(ctx, db, vec, model, scope, limit, excludeDocumentID, vecOK)
}

const resultColumns = `c.id::text, c.document_id::text, d.project_id::text, d.original_name, c.ordinal, c.heading,
	c.category, c.confidence::float8, c.text, c.risk_level, c.explanation`

func similar(ctx context.Context, db DB, vec []float32, model string, scope Scope, limit int, excludeDoc string, useVector bool) ([]Result, error) {
	if err := checkVector(vec); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []Result{}, nil
	}
	if !scope.All && len(scope.ProjectIDs) == 0 {
		return []Result{}, nil
	}
	var exclude any
	if excludeDoc != "" {
		exclude = excludeDoc
	}
	projects := scope.ProjectIDs
	if projects == nil {
		projects = []string{}
	}
	where := `($2 OR d.project_id = ANY($3::uuid[])) AND ($4::uuid IS NULL OR c.document_id <> $4::uuid) AND c.embedding_model = $6`
	var rows pgx.Rows
	if useVector {
		// The HNSW index answers ORDER BY distance LIMIT; iterative scans keep
		// it returning candidates until the filters are satisfied.
		tx, err := db.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("similar clauses: %w", err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // read-only
		for _, s := range []string{
			`SET LOCAL hnsw.iterative_scan = strict_order`,
			fmt.Sprintf(`SET LOCAL hnsw.ef_search = %d`, min(1000, max(40, 4*limit))),
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return nil, fmt.Errorf("similar clauses: %w", err)
			}
		}
		rows, err = tx.Query(ctx, fmt.Sprintf(`SELECT %s, 1 - (c.embedding_vec <=> $1::real[]::vector(%d)) AS score
			FROM clauses c JOIN documents d ON d.id = c.document_id
			WHERE c.embedding_vec IS NOT NULL AND %s
			ORDER BY c.embedding_vec <=> $1::real[]::vector(%d)
			LIMIT $5`, resultColumns, Dim, where, Dim), vec, scope.All, projects, exclude, limit, model)
		if err != nil {
			return nil, fmt.Errorf("similar clauses (pgvector): %w", err)
		}
	} else {
		var err error
		rows, err = db.Query(ctx, fmt.Sprintf(`SELECT %s,
			(SELECT sum(a::float8 * b::float8) FROM unnest(c.embedding, $1::real[]) AS t(a, b)) AS score
			FROM clauses c JOIN documents d ON d.id = c.document_id
			WHERE c.embedding IS NOT NULL AND cardinality(c.embedding) = %d AND %s
			ORDER BY score DESC, c.id
			LIMIT $5`, resultColumns, Dim, where), vec, scope.All, projects, exclude, limit, model)
		if err != nil {
			return nil, fmt.Errorf("similar clauses (exact scan): %w", err)
		}
	}
	defer rows.Close()
	out := []Result{}
	for rows.Next() {
		var r Result
		if err := rows.Scan(&r.ClauseID, &r.DocumentID, &r.ProjectID, &r.DocumentName, &r.Ordinal, &r.Heading,
			&r.Category, &r.Confidence, &r.Text, &r.RiskLevel, &r.Explanation, &r.Score); err != nil {
			return nil, fmt.Errorf("similar clauses: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("similar clauses: %w", err)
	}
	// Same order on both paths: score, then id for exact ties.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ClauseID < out[j].ClauseID
	})
	return out, nil
}
