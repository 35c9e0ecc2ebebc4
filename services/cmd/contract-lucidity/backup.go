package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
	"github.com/contract-lucidity/contract-lucidity/services/internal/storage"
)

// version is set at build time (-ldflags "-X main.version=0.1.0"); without
// it the module version of the build is used.
var version string

func appVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

const backupUsage = `usage:
  contract-lucidity backup create --to DEST [--keep 7] [--keep-days 30] [--termination-log PATH] [-o json]
  contract-lucidity backup list   --from DEST [-o json]
  contract-lucidity backup verify --from DEST [-o json] ID
  contract-lucidity backup prune  --from DEST [--keep 7] [--keep-days 30] [--abandoned-after 24h] [--dry-run] [-o json]
  contract-lucidity restore --from DEST --backup ID [--termination-log PATH] [-o json]

DEST is a directory (/backups or file:///backups) or s3://bucket/prefix
(BACKUP_S3_ENDPOINT, BACKUP_S3_REGION, BACKUP_S3_ACCESS_KEY_ID,
BACKUP_S3_SECRET_ACCESS_KEY, BACKUP_S3_FORCE_PATH_STYLE, BACKUP_S3_PART_SIZE_MB).
create and restore read DATABASE_URL (or POSTGRES_*) and STORAGE_PATH.`

// runBackup is `contract-lucidity backup create|list|verify|prune`.
func runBackup(ctx context.Context, args []string) error {
	return runBackupTo(ctx, args, os.Stdout, os.LookupEnv)
}

// runRestore is `contract-lucidity restore`.
func runRestore(ctx context.Context, args []string) error {
	return restoreCmd(ctx, args, os.Stdout, os.LookupEnv)
}

func runBackupTo(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	if len(args) == 0 {
		return errors.New(backupUsage)
	}
	cmds := map[string]func(context.Context, []string, io.Writer, func(string) (string, bool)) error{
		"create": backupCreate, "list": backupList, "verify": backupVerify, "prune": backupPrune,
	}
	cmd := cmds[args[0]]
	if cmd == nil {
		return fmt.Errorf("unknown backup command %q\n%s", args[0], backupUsage)
	}
	return cmd(ctx, args[1:], out, env)
}

// cli holds the flags every command shares.
type cli struct {
	fs     *flag.FlagSet
	output string
	args   []string
}

func newCLI(name string) *cli {
	c := &cli{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.StringVar(&c.output, "o", "text", "output format: text or json")
	c.fs.SetOutput(io.Discard)
	return c
}

// parse accepts flags before and after positional arguments.
func (c *cli) parse(args []string) error {
	for {
		if err := c.fs.Parse(args); err != nil {
			return fmt.Errorf("%s: %w\n%s", c.fs.Name(), err, backupUsage)
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		c.args = append(c.args, args[0])
		args = args[1:]
	}
	if c.output != "text" && c.output != "json" {
		return fmt.Errorf("%s: -o must be text or json", c.fs.Name())
	}
	return nil
}

func (c *cli) json() bool { return c.output == "json" }

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// instance opens what create and restore need: the configuration (database
// and storage only) and the database pool.
func instance(ctx context.Context, env func(string) (string, bool)) (*config.Config, *pgxpool.Pool, error) {
	cfg, err := config.LoadFrom(config.Migrate, env)
	if err != nil {
		return nil, nil, err
	}
	pool, err := db.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, pool, nil
}

func backupCreate(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	c := newCLI("backup create")
	to := c.fs.String("to", "", "destination: directory, file:///path or s3://bucket/prefix")
	termLog := c.fs.String("termination-log", "", "also write the outcome as compact JSON to this file (a Kubernetes termination message)")
	keep := c.fs.Int("keep", 7, "with --keep or --keep-days: prune after the backup, keeping this many newest complete backups")
	keepDays := c.fs.Int("keep-days", 30, "with --keep or --keep-days: prune after the backup, keeping complete backups younger than this many days")
	abandoned := c.fs.Duration("abandoned-after", 24*time.Hour, "when pruning: delete incomplete backups started longer ago than this")
	err := c.parse(args)
	prune := false
	c.fs.Visit(func(f *flag.Flag) { prune = prune || f.Name == "keep" || f.Name == "keep-days" })
	var res createResult
	if err == nil {
		res, err = createAndPrune(ctx, c, *to, prune, backup.Policy{Keep: *keep,
			KeepFor: time.Duration(*keepDays) * 24 * time.Hour, AbandonedAfter: *abandoned}, *keepDays, out, env)
	}
	if err != nil {
		res = createResult{Error: err.Error()}
	}
	if werr := writeTerminationLog(*termLog, fitCreateResult(res)); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// createAndPrune writes one backup and, when asked, prunes the destination
// afterwards. A failed prune does not fail the command (the backup is
// written; a retry would only write another): it is printed as a warning
// and reported in the result.
func createAndPrune(ctx context.Context, c *cli, to string, prune bool, policy backup.Policy, keepDays int, out io.Writer,
	env func(string) (string, bool)) (createResult, error) {
	if len(c.args) > 0 {
		return createResult{}, fmt.Errorf("backup create takes no arguments, got %q", c.args)
	}
	if prune && policy.Keep < 1 {
		return createResult{}, errors.New("backup create: --keep must be at least 1 (the newest complete backup is never deleted)")
	}
	if prune && keepDays < 0 {
		return createResult{}, errors.New("backup create: --keep-days must not be negative")
	}
	dest, err := backup.Open(to, env)
	if err != nil {
		return createResult{}, err
	}
	cfg, pool, err := instance(ctx, env)
	if err != nil {
		return createResult{}, err
	}
	defer pool.Close()
	if st, err := os.Stat(cfg.StoragePath); err != nil || !st.IsDir() {
		return createResult{}, fmt.Errorf("STORAGE_PATH %s is not a directory: the files could not be backed up", cfg.StoragePath)
	}
	store, err := storage.New(cfg.StoragePath)
	if err != nil {
		return createResult{}, err
	}
	log := logger(cfg.LogLevel)
	m, err := backup.Create(ctx, pool, store, dest, backup.Options{AppVersion: appVersion(), Log: log})
	if err != nil {
		return createResult{}, err
	}
	s := m.Summary()
	s.Destination = dest.String()
	res := newCreateResult(s)
	if prune {
		pruned, err := backup.Prune(ctx, dest, policy, time.Now(), false)
		for _, p := range pruned {
			res.Pruned = append(res.Pruned, p.ID)
			log.Info("pruned backup", "id", p.ID, "reason", p.Reason)
		}
		if err != nil {
			res.PruneError = err.Error()
			fmt.Fprintf(os.Stderr, "WARNING: backup %s was written, but pruning old backups failed: %v\n", m.ID, err)
		}
	}
	if c.json() {
		return res, writeJSON(out, s)
	}
	fmt.Fprintf(out, "backup %s created in %s\n", m.ID, dest)
	printSummary(out, s)
	if prune {
		fmt.Fprintf(out, "  pruned %d old backups\n", len(res.Pruned))
	}
	return res, nil
}

func printSummary(out io.Writer, s backup.Summary) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  archive\t%s (%d bytes)\n", humanBytes(s.SizeBytes), s.SizeBytes)
	fmt.Fprintf(tw, "  started\t%s\n", s.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "  finished\t%s (%s)\n", s.FinishedAt.Format(time.RFC3339), s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond))
	fmt.Fprintf(tw, "  app version\t%s\n", s.AppVersion)
	fmt.Fprintf(tw, "  migration\t%s\n", s.Migration)
	fmt.Fprintf(tw, "  rows\t%s\n", rowsLine(s.Rows))
	fmt.Fprintf(tw, "  files\t%d (%s)\n", s.Files, humanBytes(s.FileBytes))
	tw.Flush()
	for _, p := range s.FileProblems {
		fmt.Fprintf(out, "  WARNING: %s: %s\n", p.Key, p.Problem)
	}
}

func rowsLine(rows map[string]int64) string {
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, rows[n])
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func backupList(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	c := newCLI("backup list")
	from := c.fs.String("from", "", "where the backups are")
	if err := c.parse(args); err != nil {
		return err
	}
	dest, err := backup.Open(*from, env)
	if err != nil {
		return err
	}
	entries, err := backup.List(ctx, dest)
	if err != nil {
		return err
	}
	if c.json() {
		list := make([]backup.Summary, len(entries))
		for i, e := range entries {
			list[i] = e.Summary()
		}
		return writeJSON(out, list)
	}
	if len(entries) == 0 {
		fmt.Fprintf(out, "no backups in %s\n", dest)
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tFINISHED\tSIZE\tVERSION\tMIGRATION\tDOCUMENTS\tCLAUSES\tFILES")
	for _, e := range entries {
		s := e.Summary()
		switch {
		case e.Error != "":
			fmt.Fprintf(tw, "%s\tunreadable\t-\t-\t-\t-\t-\t-\t-\n", e.ID)
		case !e.Complete:
			fmt.Fprintf(tw, "%s\tincomplete\t-\t-\t-\t-\t-\t-\t-\n", e.ID)
		default:
			fmt.Fprintf(tw, "%s\tcomplete\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", e.ID, s.FinishedAt.Format(time.RFC3339),
				humanBytes(s.SizeBytes), s.AppVersion, s.Migration, s.Rows["documents"], s.Rows["clauses"], s.Files)
		}
	}
	tw.Flush()
	for _, e := range entries {
		if e.Error != "" {
			fmt.Fprintf(out, "%s: %s\n", e.ID, e.Error)
		}
	}
	return nil
}

func backupVerify(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	c := newCLI("backup verify")
	from := c.fs.String("from", "", "where the backup is")
	if err := c.parse(args); err != nil {
		return err
	}
	if len(c.args) != 1 {
		return fmt.Errorf("backup verify needs one backup id\n%s", backupUsage)
	}
	dest, err := backup.Open(*from, env)
	if err != nil {
		return err
	}
	m, err := backup.Verify(ctx, dest, c.args[0])
	if err != nil {
		return err
	}
	s := m.Summary()
	s.Destination = dest.String()
	if c.json() {
		return writeJSON(out, s)
	}
	fmt.Fprintf(out, "backup %s in %s is intact: %d members and the archive match their sha256\n", m.ID, dest, len(m.Members)+1)
	printSummary(out, s)
	return nil
}

func backupPrune(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	c := newCLI("backup prune")
	from := c.fs.String("from", "", "where the backups are")
	keep := c.fs.Int("keep", 7, "always keep this many newest complete backups (at least 1)")
	keepDays := c.fs.Int("keep-days", 30, "keep complete backups younger than this many days")
	abandoned := c.fs.Duration("abandoned-after", 24*time.Hour, "delete incomplete backups started longer ago than this")
	dryRun := c.fs.Bool("dry-run", false, "only print what would be deleted")
	if err := c.parse(args); err != nil {
		return err
	}
	if *keepDays < 0 {
		return errors.New("backup prune: --keep-days must not be negative")
	}
	dest, err := backup.Open(*from, env)
	if err != nil {
		return err
	}
	policy := backup.Policy{Keep: *keep, KeepFor: time.Duration(*keepDays) * 24 * time.Hour, AbandonedAfter: *abandoned}
	pruned, err := backup.Prune(ctx, dest, policy, time.Now(), *dryRun)
	if c.json() {
		if pruned == nil {
			pruned = []backup.Pruned{}
		}
		if jerr := writeJSON(out, map[string]any{"dry_run": *dryRun, "deleted": pruned}); jerr != nil && err == nil {
			err = jerr
		}
		return err
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	for _, p := range pruned {
		fmt.Fprintf(out, "%s %s: %s\n", verb, p.ID, p.Reason)
	}
	if err == nil && len(pruned) == 0 {
		fmt.Fprintf(out, "nothing to prune in %s\n", dest)
	}
	return err
}

func restoreCmd(ctx context.Context, args []string, out io.Writer, env func(string) (string, bool)) error {
	c := newCLI("restore")
	from := c.fs.String("from", "", "where the backup is")
	id := c.fs.String("backup", "", "the backup id (see backup list)")
	termLog := c.fs.String("termination-log", "", "also write the outcome as compact JSON to this file (a Kubernetes termination message)")
	err := c.parse(args)
	var res restoreResult
	if err == nil {
		res, err = restore(ctx, c, *from, *id, out, env)
	}
	if err != nil {
		res = restoreResult{Error: clip(err.Error(), 3000)}
	}
	b, _ := json.Marshal(res)
	if werr := writeTerminationLog(*termLog, b); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func restore(ctx context.Context, c *cli, from, id string, out io.Writer, env func(string) (string, bool)) (restoreResult, error) {
	if id == "" || len(c.args) > 0 {
		return restoreResult{}, fmt.Errorf("restore needs --from DEST --backup ID\n%s", backupUsage)
	}
	dest, err := backup.Open(from, env)
	if err != nil {
		return restoreResult{}, err
	}
	cfg, pool, err := instance(ctx, env)
	if err != nil {
		return restoreResult{}, err
	}
	defer pool.Close()
	res, err := backup.Restore(ctx, pool, cfg.StoragePath, dest, id, backup.RestoreOptions{AppVersion: appVersion(), Log: logger(cfg.LogLevel)})
	if err != nil {
		return restoreResult{}, err
	}
	result := restoreResult{Restored: id, Migrated: res.Migrated}
	s := res.Manifest.Summary()
	s.Destination = dest.String()
	if c.json() {
		return result, writeJSON(out, map[string]any{"restored": s, "migrated": res.Migrated})
	}
	fmt.Fprintf(out, "restored backup %s from %s into an empty database and %s\n", id, dest, cfg.StoragePath)
	printSummary(out, s)
	if len(res.Migrated) > 0 {
		fmt.Fprintf(out, "  then migrated to this version's schema: %s\n", strings.Join(res.Migrated, ", "))
	}
	fmt.Fprintln(out, "The instance needs the ENCRYPTION_KEY of the backed-up one: stored AI provider keys are encrypted with it.")
	return result, nil
}
