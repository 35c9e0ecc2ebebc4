package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzip"

	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

// Options tune Create.
type Options struct {
	// AppVersion is recorded in the manifest.
	AppVersion string
	// ChunkBytes is the size of one archive member of table data (default
	// 8 MiB): the memory a table copy holds.
	ChunkBytes int
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// AfterSnapshot runs once the tables are copied and the snapshot is
	// released, before the files are copied. Tests use it to race deletes
	// and uploads against the backup.
	AfterSnapshot func()
}

// errUploadStopped is what the archive writer sees when the upload ended
// first; the upload's error is then the one to report.
var errUploadStopped = errors.New("the upload stopped reading the archive")

// fileRef is a file a snapshot row references; sha256 is known for
// documents' originals.
type fileRef struct {
	key    string
	sha256 string
}

// Create makes a backup of the database behind pool and the files of store
// into dest and returns its manifest. On failure it removes what it wrote.
func Create(ctx context.Context, pool *pgxpool.Pool, store storage.Store, dest Destination, opts Options) (*Manifest, error) {
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 8 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now().UTC()
	m := &Manifest{Format: FormatVersion, ID: newID(start), AppVersion: opts.AppVersion, StartedAt: start}
	log := opts.Log.With("backup_id", m.ID, "destination", dest.String())
	host, _ := os.Hostname()
	marker, _ := json.Marshal(map[string]any{"id": m.ID, "started_at": start, "app_version": opts.AppVersion, "host": host, "pid": os.Getpid()})
	if err := dest.Put(ctx, m.ID+"/"+startedName, bytes.NewReader(marker), int64(len(marker))); err != nil {
		return nil, fmt.Errorf("backup %s: mark as started: %w", m.ID, err)
	}
	log.Info("backup started")
	if err := create(ctx, pool, store, dest, m, opts, log); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := dest.Delete(cctx, m.ID+"/"+archiveName, m.ID+"/"+manifestName, m.ID+"/"+startedName); derr != nil {
			log.Warn("could not remove the failed backup", "error", derr)
		}
		return nil, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	if err := dest.Delete(ctx, m.ID+"/"+startedName); err != nil {
		log.Warn("backup complete, but its started marker could not be removed", "error", err)
	}
	log.Info("backup complete", "bytes", m.Archive.Size, "rows", m.Rows(), "files", m.Files.Count,
		"seconds", m.FinishedAt.Sub(m.StartedAt).Seconds())
	return m, nil
}

func create(ctx context.Context, pool *pgxpool.Pool, store storage.Store, dest Destination, m *Manifest, opts Options, log *slog.Logger) error {
	pr, pw := io.Pipe()
	counted := &hashingWriter{w: pw, h: sha256.New()}
	werr := make(chan error, 1)
	go func() {
		err := writeArchive(ctx, counted, pool, store, m, opts, log)
		pw.CloseWithError(err) // nil: the reader sees EOF
		werr <- err
	}()
	putErr := dest.Put(ctx, m.ID+"/"+archiveName, pr, -1)
	pr.CloseWithError(errUploadStopped) // unblocks the writer if Put gave up early
	err := <-werr
	switch {
	case err != nil && !errors.Is(err, errUploadStopped):
		return err // the cause; putErr is its consequence
	case putErr != nil:
		return putErr
	case err != nil:
		return err
	}
	m.Archive = &Archive{Name: archiveName, Size: counted.n, SHA256: hex.EncodeToString(counted.h.Sum(nil))}
	m.FinishedAt = time.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The manifest goes last: its presence is what makes the backup complete.
	return dest.Put(ctx, m.ID+"/"+manifestName, bytes.NewReader(b), int64(len(b)))
}

func writeArchive(ctx context.Context, w io.Writer, pool *pgxpool.Pool, store storage.Store, m *Manifest, opts Options, log *slog.Logger) error {
	gz := gzip.NewWriter(w)
	aw := &archiveWriter{tw: tar.NewWriter(gz)}
	refs, err := copySnapshot(ctx, pool, aw, m, opts.ChunkBytes)
	if err != nil {
		return err
	}
	log.Info("tables copied", "tables", len(m.Tables), "rows", m.Rows(), "migration", m.Migration())
	if opts.AfterSnapshot != nil {
		opts.AfterSnapshot()
	}
	if err := copyFiles(ctx, store, aw, refs, m); err != nil {
		return err
	}
	for _, p := range m.FileProblems {
		log.Warn("referenced file not backed up faithfully", "key", p.Key, "problem", p.Problem)
	}
	log.Info("files copied", "files", m.Files.Count, "bytes", m.Files.Bytes)
	m.Members = aw.members
	inner, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Size: int64(len(inner)), Mode: 0o640, ModTime: m.StartedAt.Truncate(time.Second)}
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := aw.tw.Write(inner); err != nil {
		return err
	}
	if err := aw.tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// copySnapshot copies every application table from one snapshot and returns
// the files the snapshot's rows reference. The snapshot is released before
// the (slower) file copy, so it does not hold back vacuum meanwhile.
func copySnapshot(ctx context.Context, pool *pgxpool.Pool, aw *archiveWriter, m *Manifest, chunk int) ([]fileRef, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	// REPEATABLE READ: every statement below sees the same snapshot, taken
	// at the first one. (DEFERRABLE would only matter for SERIALIZABLE.)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only; no-op after commit
	if err := tx.QueryRow(ctx, `SELECT now(), current_setting('server_version')`).Scan(&m.SnapshotAt, &m.PostgresVersion); err != nil {
		return nil, fmt.Errorf("take snapshot: %w", err)
	}
	m.SnapshotAt = m.SnapshotAt.UTC()
	if m.Migrations, err = schemaMigrations(ctx, tx); err != nil {
		return nil, err
	}
	if m.Tables, err = appTables(ctx, tx); err != nil {
		return nil, err
	}
	// Like pg_dump: no DDL (a migration) may change these tables until the
	// copy is done; a migration that is running is waited for.
	if len(m.Tables) > 0 {
		names := make([]string, len(m.Tables))
		for i, t := range m.Tables {
			names[i] = pgx.Identifier{t.Name}.Sanitize()
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
			return nil, fmt.Errorf("lock tables: %w", err)
		}
	}
	for i := range m.Tables {
		t := &m.Tables[i]
		c := &copyChunker{aw: aw, table: t.Name, limit: chunk, modTime: m.SnapshotAt}
		// A query, not COPY table: it also works for partitioned tables.
		sql := fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", columnList(t.Columns), pgx.Identifier{t.Name}.Sanitize())
		if _, err := tx.Conn().PgConn().CopyTo(ctx, c, sql); err != nil {
			return nil, fmt.Errorf("copy table %s: %w", t.Name, err)
		}
		if err := c.close(); err != nil {
			return nil, err
		}
		t.Rows = c.rows
	}
	if m.Sequences, err = ownedSequences(ctx, tx, m.Tables); err != nil {
		return nil, err
	}
	refs, err := fileRefs(ctx, tx)
	if err != nil {
		return nil, err
	}
	return refs, tx.Commit(ctx)
}

func columnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// fileRefs lists the storage keys the rows reference: documents' originals
// and generated reports.
func fileRefs(ctx context.Context, tx pgx.Tx) ([]fileRef, error) {
	rows, err := tx.Query(ctx, `SELECT storage_key, sha256 FROM documents
		UNION ALL
		SELECT k, '' FROM document_reports, LATERAL (VALUES (html_key), (pdf_key)) v(k) WHERE k IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list referenced files: %w", err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fileRef, error) {
		var f fileRef
		return f, r.Scan(&f.key, &f.sha256)
	})
	if err != nil {
		return nil, fmt.Errorf("list referenced files: %w", err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].key < refs[j].key })
	out := refs[:0]
	for i, r := range refs {
		if i == 0 || r.key != refs[i-1].key {
			out = append(out, r)
		}
	}
	return out, nil
}

// copyFiles archives each referenced file, from its key or from the trash if
// its document was deleted after the snapshot. A missing file or a checksum
// that differs from the row's is recorded, not fatal: the rest of the
// instance is still worth a backup, and the manifest says what is wrong.
func copyFiles(ctx context.Context, store storage.Store, aw *archiveWriter, refs []fileRef, m *Manifest) error {
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, ok := memberKey(filesDir + ref.key); !ok {
			m.FileProblems = append(m.FileProblems, FileProblem{Key: ref.key, Problem: "not a valid storage key"})
			continue
		}
		f, err := store.OpenIncludingTrash(ctx, ref.key)
		if errors.Is(err, fs.ErrNotExist) {
			m.FileProblems = append(m.FileProblems, FileProblem{Key: ref.key, Problem: "missing from storage"})
			continue
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", ref.key, err)
		}
		info := f.Info()
		mem, err := aw.add(filesDir+ref.key, info.Size, info.ModTime, f)
		f.Close()
		if err != nil {
			return err
		}
		if ref.sha256 != "" && mem.SHA256 != ref.sha256 {
			m.FileProblems = append(m.FileProblems, FileProblem{Key: ref.key, Problem: "content does not match documents.sha256"})
		}
		m.Files.Count++
		m.Files.Bytes += info.Size
	}
	return nil
}
