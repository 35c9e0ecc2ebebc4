package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// DefaultFileTypes is the seeded value of system_config supported_file_types
// when SUPPORTED_FILE_TYPES is not set.
var DefaultFileTypes = config.FileTypes

// Capabilities are the AI capability names (ai_capability_mappings rows).
var Capabilities = []string{"extraction_classification", "document_understanding", "reasoning", "generation", "embeddings"}

// DefaultProjectName is the project created with the initial admin.
const DefaultProjectName = "Default"

// Setup applies the migrations, the pgvector step and the seed under one
// advisory lock: what `contract-lucidity migrate` runs.
func Setup(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	err = withLock(ctx, pool, func(conn *pgx.Conn) error {
		var err error
		if applied, err = migrate(ctx, conn, all, nil); err != nil {
			return err
		}
		if _, err := EnableVector(ctx, conn); err != nil {
			return err
		}
		return seed(ctx, conn, cfg)
	})
	return applied, err
}

// Seed inserts the first-start data (seed) without touching the schema:
// the backend runs it at start, since the initial admin's password is given
// to the backend (the operator's migrate Job does not have it).
func Seed(ctx context.Context, pool *pgxpool.Pool, cfg *config.Config) error {
	return seed(ctx, pool, cfg)
}

// seed is idempotent: system settings and capability rows are inserted when
// missing, the initial admin (with must_change_password) is created only on
// an empty users table, and the default project only together with it. It
// holds the migration lock for its transaction, so backends starting
// together and a running migrate never create two admins.
func seed(ctx context.Context, conn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, cfg *config.Config) error {
	seedTypes := cfg.SupportedFileTypes
	if len(seedTypes) == 0 {
		seedTypes = DefaultFileTypes
	}
	types, _ := json.Marshal(seedTypes)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO system_config (key, value) VALUES
			('supported_file_types', $1), ('max_upload_size_mb', $2)
			ON CONFLICT (key) DO NOTHING`, types, fmt.Sprint(cfg.MaxUploadSizeMB)); err != nil {
			return fmt.Errorf("seed system_config: %w", err)
		}
		for _, c := range Capabilities {
			if _, err := tx.Exec(ctx, `INSERT INTO ai_capability_mappings (capability) VALUES ($1)
				ON CONFLICT (capability) DO NOTHING`, c); err != nil {
				return fmt.Errorf("seed capability %s: %w", c, err)
			}
		}
		email := strings.TrimSpace(cfg.InitialAdminEmail)
		if email == "" || cfg.InitialAdminPassword == "" {
			return nil
		}
		// First start only: once any user exists (even if the admin later
		// changed their email), the initial credentials create nothing.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return fmt.Errorf("look up users: %w", err)
		}
		if exists {
			return nil
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.InitialAdminPassword), cfg.BcryptCost)
		if err != nil {
			return fmt.Errorf("hash initial admin password: %w", err)
		}
		var adminID string
		if err := tx.QueryRow(ctx, `INSERT INTO users (email, name, password_hash, role, must_change_password)
			VALUES ($1, 'Administrator', $2, 'admin', true) RETURNING id`, email, string(hash)).Scan(&adminID); err != nil {
			return fmt.Errorf("create initial admin: %w", err)
		}
		var projectID string
		err = tx.QueryRow(ctx, `INSERT INTO projects (name, description, created_by)
			VALUES ($1, 'Created at first start', $2)
			ON CONFLICT (lower(name)) DO UPDATE SET updated_at = projects.updated_at
			RETURNING id`, DefaultProjectName, adminID).Scan(&projectID)
		if err != nil {
			return fmt.Errorf("create default project: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'admin')
			ON CONFLICT DO NOTHING`, projectID, adminID); err != nil {
			return fmt.Errorf("add admin to default project: %w", err)
		}
		return nil
	})
}
