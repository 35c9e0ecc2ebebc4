package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
)

// MigrateOptions adjust Migrate.
type MigrateOptions struct {
	// Expected maps keys to the sha256 the database recorded
	// (documents.sha256); a source file that differs is reported.
	Expected map[string]string
	// Referenced are the keys the database references: those missing
	// from the source are reported.
	Referenced []string
	Log        *slog.Logger
}

// MigrateResult is what Migrate did.
type MigrateResult struct {
	Files  int   `json:"files"`  // in the source
	Bytes  int64 `json:"bytes"`  // in the source
	Copied int   `json:"copied"` // written to the target and verified
	// Present were already in the target with the same content (a
	// previous, interrupted run): verified, not copied again.
	Present int `json:"present"`
	// Conflicts are keys the target holds with other content; they are
	// left as they are (see the message).
	Conflicts []string `json:"conflicts,omitempty"`
	// Mismatched are source files whose content differs from the
	// database's checksum; they are copied as they are.
	Mismatched []string `json:"mismatched,omitempty"`
	// Missing are keys the database references that the source lacks.
	Missing []string `json:"missing,omitempty"`
}

// ErrConflict: the target holds other content at a key (Migrate).
var ErrConflict = errors.New("the target holds different files at the same keys")

// Migrate copies every document and report from one store to another and
// verifies each copy by reading it back and comparing its sha256 with the
// source's. It is idempotent and resumable: a file already in the target
// with the same content is verified and skipped, and an interrupted copy
// leaves nothing at its key (Put is all or nothing). A file the target
// holds with other content is never overwritten: it is reported, and
// Migrate returns ErrConflict after copying the rest. The trash and
// temporary files are not copied.
func Migrate(ctx context.Context, from, to Store, opts MigrateOptions) (*MigrateResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var files []Info
	if err := from.List(ctx, func(i Info) error { files = append(files, i); return nil }); err != nil {
		return nil, fmt.Errorf("list %s: %w", from, err)
	}
	res := &MigrateResult{Files: len(files)}
	inSource := make(map[string]bool, len(files))
	for _, f := range files {
		res.Bytes += f.Size
		inSource[f.Key] = true
	}
	for _, key := range opts.Referenced {
		if !inSource[key] {
			res.Missing = append(res.Missing, key)
		}
	}
	log.Info("migrating storage", "from", from.String(), "to", to.String(), "files", res.Files, "bytes", res.Bytes)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		sum, outcome, err := migrateOne(ctx, from, to, f)
		if err != nil {
			return res, err
		}
		switch outcome {
		case copied:
			res.Copied++
		case present:
			res.Present++
		case conflict:
			res.Conflicts = append(res.Conflicts, f.Key)
			log.Warn("the target holds other content at this key; left as it is", "key", f.Key)
		}
		if want, ok := opts.Expected[f.Key]; ok && want != sum {
			res.Mismatched = append(res.Mismatched, f.Key)
			log.Warn("the source file does not match the database's checksum; copied as it is", "key", f.Key)
		}
		if (i+1)%500 == 0 {
			log.Info("migrating storage", "done", i+1, "of", len(files))
		}
	}
	sort.Strings(res.Missing)
	if len(res.Conflicts) > 0 {
		return res, fmt.Errorf("%d files were not copied: %w", len(res.Conflicts), ErrConflict)
	}
	return res, nil
}

type outcome int

const (
	copied outcome = iota
	present
	conflict
)

// migrateOne copies one file unless the target has it; it returns the
// source's sha256.
func migrateOne(ctx context.Context, from, to Store, f Info) (string, outcome, error) {
	srcSum, err := checksum(ctx, from, f.Key)
	if err != nil {
		return "", 0, fmt.Errorf("read %s from %s: %w", f.Key, from, err)
	}
	dstSum, err := checksum(ctx, to, f.Key)
	switch {
	case err == nil && dstSum == srcSum:
		return srcSum, present, nil
	case err == nil:
		return srcSum, conflict, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", 0, fmt.Errorf("read %s from %s: %w", f.Key, to, err)
	}
	src, err := from.Open(ctx, f.Key)
	if err != nil {
		return "", 0, fmt.Errorf("read %s from %s: %w", f.Key, from, err)
	}
	h := sha256.New()
	_, err = to.Put(ctx, f.Key, io.TeeReader(src, h), src.Info().Size)
	src.Close()
	if err != nil {
		return "", 0, fmt.Errorf("copy %s to %s: %w", f.Key, to, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != srcSum {
		_ = to.Remove(ctx, f.Key)
		return "", 0, fmt.Errorf("%s changed in %s while it was copied", f.Key, from)
	}
	if dstSum, err = checksum(ctx, to, f.Key); err != nil || dstSum != srcSum {
		_ = to.Remove(ctx, f.Key)
		return "", 0, fmt.Errorf("verify %s in %s: read back %s, want %s (%v); the copy was removed", f.Key, to, dstSum, srcSum, err)
	}
	return srcSum, copied, nil
}

func checksum(ctx context.Context, s Store, key string) (string, error) {
	f, err := s.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
