// Package backup makes and restores consistent backups of a Contract
// Lucidity instance: the application tables of PostgreSQL and the files
// their rows reference, in one archive, without pg_dump.
//
// A backup is three objects under DEST/<id>/:
//
//	started.json   written first, removed on success: marks a backup in progress
//	data.tar.gz    tables/<table>/<n>.copy (COPY text, in load order), files/<key>, manifest.json
//	manifest.json  written last (its presence means complete): the archive's
//	               manifest plus the archive's size and sha256
//
// The tables come from one REPEATABLE READ, READ ONLY snapshot; the files are
// exactly those the snapshot's rows reference, read from their key or, if the
// document was deleted since, from the storage trash (storage.TrashDocument).
// Restore verifies everything before it writes anything, then builds the
// schema the backup was taken at, loads the rows and migrates forward in one
// transaction, and moves the files into place from a staging directory.
package backup

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"
)

// FormatVersion is the archive layout this package writes and reads.
const FormatVersion = 1

// Object names inside a backup's directory.
const (
	archiveName  = "data.tar.gz"
	manifestName = "manifest.json"
	startedName  = "started.json"
)

// Manifest describes one backup. The copy inside the archive has no Archive
// and no FinishedAt; the one next to it (manifest.json) has both.
type Manifest struct {
	Format     int       `json:"format"`
	ID         string    `json:"id"`
	AppVersion string    `json:"app_version"`
	StartedAt  time.Time `json:"started_at"`
	// SnapshotAt is the database's clock when the snapshot was taken.
	SnapshotAt      time.Time `json:"snapshot_at"`
	FinishedAt      time.Time `json:"finished_at,omitzero"`
	PostgresVersion string    `json:"postgres_version"`
	// Migrations are the names of the schema migrations applied in the
	// snapshot (schema_migrations), in order.
	Migrations []string   `json:"migrations"`
	Tables     []Table    `json:"tables"`
	Sequences  []Sequence `json:"sequences,omitempty"`
	Files      FileStats  `json:"files"`
	// FileProblems lists referenced files that were missing or did not
	// match their row's checksum when the backup was made.
	FileProblems []FileProblem `json:"file_problems,omitempty"`
	Members      []Member      `json:"members"`
	Archive      *Archive      `json:"archive,omitempty"`
}

// Table is one application table: its columns in COPY order and its rows.
type Table struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
}

// Sequence is the state of a sequence owned by a table column.
type Sequence struct {
	Name      string `json:"name"`
	Table     string `json:"table"`
	Column    string `json:"column"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
}

// FileStats counts the files in the archive.
type FileStats struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
}

// FileProblem is a referenced file the backup could not copy faithfully.
type FileProblem struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
}

// Member is one archive entry, in archive order.
type Member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Archive is the compressed archive object.
type Archive struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Migration is the last applied migration ("" for none).
func (m *Manifest) Migration() string {
	if len(m.Migrations) == 0 {
		return ""
	}
	return m.Migrations[len(m.Migrations)-1]
}

// Rows is the total number of rows.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// idRE matches backup ids: UTC start time and a random suffix, so ids sort
// by time and two backups started in the same second do not collide.
var idRE = regexp.MustCompile(`^([0-9]{8}T[0-9]{6}Z)-[0-9a-f]{6}$`)

const idTimeLayout = "20060102T150405Z"

func newID(now time.Time) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return now.UTC().Format(idTimeLayout) + "-" + hex.EncodeToString(b)
}

// idTime is the start time encoded in a backup id.
func idTime(id string) (time.Time, bool) {
	m := idRE.FindStringSubmatch(id)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(idTimeLayout, m[1])
	return t, err == nil
}

// ValidID reports whether id is a backup id.
func ValidID(id string) bool { return idRE.MatchString(id) }

func checkID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%q is not a backup id (like 20261129T101500Z-3f2a1b)", id)
	}
	return nil
}
