package backup_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/analysis"
	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
)

// BenchmarkBackupRestore1000Documents: backup and restore time and archive
// size for 1,000 documents made from the CUAD contracts (their text as the
// file, every clause the splitter finds, each with a 384-dimension
// embedding), to a directory. Numbers, not assertions:
//
//	hack/bench/backup.sh   (go test -bench BackupRestore -benchtime 1x)
func BenchmarkBackupRestore1000Documents(b *testing.B) {
	const docs = 1000
	src := newInstance(b)
	ctx := context.Background()
	user := src.one(b, `SELECT id FROM users LIMIT 1`)
	project := src.one(b, `SELECT id FROM projects LIMIT 1`)
	var clauseRows [][]any
	var fileBytes int64
	setup := time.Now()
	for i := range docs {
		text := cuad(b, i)
		fileBytes += int64(len(text))
		id, err := src.upload(ctx, project, user, fmt.Sprintf("contract-%04d.pdf", i), text)
		if err != nil {
			b.Fatal(err)
		}
		src.exec(b, `UPDATE documents SET pipeline_status = 'complete', progress = 100, extracted_text = $2, analyzer = 'offline/v1' WHERE id = $1`, id, string(text))
		for _, c := range analysis.SplitClauses(string(text)) {
			clauseRows = append(clauseRows, []any{id, c.Ordinal, c.Heading, "Other", c.Text, "low", analysis.Embed(c.Text), analysis.EmbedderVersion})
		}
	}
	if _, err := src.pool.CopyFrom(ctx, pgx.Identifier{"clauses"},
		[]string{"document_id", "ordinal", "heading", "category", "text", "risk_level", "embedding", "embedding_model"},
		pgx.CopyFromRows(clauseRows)); err != nil {
		b.Fatal(err)
	}
	src.exec(b, `ANALYZE`)
	b.Logf("setup: %d documents (%.1f MiB of files), %d clauses in %s", docs, float64(fileBytes)/(1<<20), len(clauseRows), time.Since(setup).Round(time.Second))

	dir := b.TempDir()
	dest, err := backup.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		m, err := backup.Create(ctx, src.pool, src.store, dest, backup.Options{AppVersion: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		backupTime := time.Since(start)

		start = time.Now()
		if _, err := backup.Verify(ctx, dest, m.ID); err != nil {
			b.Fatal(err)
		}
		verifyTime := time.Since(start)

		b.StopTimer()
		dst := emptyInstance(b)
		b.StartTimer()
		start = time.Now()
		if _, err := restore(dst, dest, m.ID); err != nil {
			b.Fatal(err)
		}
		restoreTime := time.Since(start)

		var tableBytes int64
		for _, mem := range m.Members {
			if len(mem.Name) > 7 && mem.Name[:7] == "tables/" {
				tableBytes += mem.Size
			}
		}
		b.ReportMetric(backupTime.Seconds(), "backup-s")
		b.ReportMetric(verifyTime.Seconds(), "verify-s")
		b.ReportMetric(restoreTime.Seconds(), "restore-s")
		b.ReportMetric(float64(m.Archive.Size)/(1<<20), "archive-MiB")
		b.ReportMetric(float64(tableBytes)/(1<<20), "table-text-MiB")
		b.ReportMetric(float64(m.Files.Bytes)/(1<<20), "files-MiB")
		b.ReportMetric(float64(m.Rows()), "rows")
		b.StopTimer()
		os.RemoveAll(dir + "/" + m.ID)
		b.StartTimer()
	}
}
