package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

const storageUsage = `usage:
  contract-lucidity storage migrate --to s3|filesystem [-o json]

Copies every document and report from the filesystem (STORAGE_PATH) to the
S3 bucket (STORAGE_S3_*), or back with --to filesystem, and verifies each
copy by reading it back (sha256). Run it again after an interruption: files
already copied are verified and skipped. A file the target holds with other
content is never overwritten (exit 1). Also reads DATABASE_URL (or
POSTGRES_*) to check the files against the database's checksums.`

// runStorage is `contract-lucidity storage migrate`.
func runStorage(ctx context.Context, args []string) error {
	return storageCmd(ctx, args, os.Stdout, os.LookupEnv)
}

func storageCmd(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New(storageUsage)
	}
	c := newCLI("storage migrate")
	to := c.fs.String("to", "", "s3 or filesystem")
	if err := c.parse(args[1:]); err != nil {
		return err
	}
	if len(c.args) > 0 || (*to != config.StorageS3 && *to != config.StorageFilesystem) {
		return errors.New(storageUsage)
	}
	cfg, pool, err := instance(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	s3cfg, err := config.StorageS3FromEnv(env)
	if err != nil {
		return err
	}
	log := logger(cfg.LogLevel)
	bucket, err := storage.OpenS3(ctx, s3cfg, storage.S3Options{Log: log})
	if err != nil {
		return err
	}
	var from, dst storage.Store = nil, bucket
	if *to == config.StorageS3 {
		// The source must be the real volume, not a directory made here.
		if _, err := os.Stat(filepath.Join(cfg.StoragePath, "documents")); err != nil {
			return fmt.Errorf("STORAGE_PATH %s holds no documents directory: is the volume mounted? (%v)", cfg.StoragePath, err)
		}
		if from, err = storage.NewFilesystem(cfg.StoragePath); err != nil {
			return err
		}
	} else {
		if dst, err = storage.NewFilesystem(cfg.StoragePath); err != nil {
			return err
		}
		from = bucket
	}
	opts, err := expectedFiles(ctx, pool)
	if err != nil {
		return err
	}
	opts.Log = log
	res, err := storage.Migrate(ctx, from, dst, opts)
	if res != nil {
		if c.json() {
			if jerr := writeJSON(out, res); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprintf(out, "%d files (%s) in %s: %d copied to %s and verified, %d already there and verified\n",
				res.Files, humanBytes(res.Bytes), from, res.Copied, dst, res.Present)
			for _, k := range res.Conflicts {
				fmt.Fprintf(out, "  NOT COPIED: %s: the target holds a different file at this key\n", k)
			}
			for _, k := range res.Mismatched {
				fmt.Fprintf(out, "  WARNING: %s: the source file does not match the database's checksum (copied as it is)\n", k)
			}
			for _, k := range res.Missing {
				fmt.Fprintf(out, "  WARNING: %s: referenced by the database but not in the source\n", k)
			}
		}
	}
	return err
}

// expectedFiles reads the keys the database references and the documents'
// checksums.
func expectedFiles(ctx context.Context, pool *pgxpool.Pool) (storage.MigrateOptions, error) {
	opts := storage.MigrateOptions{Expected: map[string]string{}}
	rows, err := pool.Query(ctx, `SELECT storage_key, sha256 FROM documents
		UNION ALL SELECT html_key, NULL FROM document_reports WHERE html_key IS NOT NULL
		UNION ALL SELECT pdf_key, NULL FROM document_reports WHERE pdf_key IS NOT NULL`)
	if err != nil {
		return opts, fmt.Errorf("read the database's files: %w", err)
	}
	var key string
	var sum *string
	_, err = pgx.ForEachRow(rows, []any{&key, &sum}, func() error {
		opts.Referenced = append(opts.Referenced, key)
		if sum != nil {
			opts.Expected[key] = *sum
		}
		return nil
	})
	if err != nil {
		return opts, fmt.Errorf("read the database's files: %w", err)
	}
	return opts, nil
}
