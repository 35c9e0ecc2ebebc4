package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
)

// ErrIncomplete means the backup has no manifest: it is in progress, or its
// process died.
var ErrIncomplete = errors.New("backup is incomplete")

// ReadManifest loads backup id's manifest.json and checks that it is one
// this binary can read.
func ReadManifest(ctx context.Context, dest Destination, id string) (*Manifest, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	rc, err := dest.Get(ctx, id+"/"+manifestName)
	if errors.Is(err, fs.ErrNotExist) {
		if mrc, merr := dest.Get(ctx, id+"/"+startedName); merr == nil {
			mrc.Close()
			return nil, fmt.Errorf("backup %s in %s: %w (in progress, or its process stopped before the end)", id, dest, ErrIncomplete)
		}
		return nil, fmt.Errorf("no backup %s in %s", id, dest)
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: read manifest: %w", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("backup %s: read manifest: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, corrupt("%s is not valid JSON: %v", manifestName, err))
	}
	if m.Format > FormatVersion {
		return nil, fmt.Errorf("backup %s has format %d, this binary reads up to format %d: use the version that made it (%s) or newer",
			id, m.Format, FormatVersion, m.AppVersion)
	}
	if err := m.validate(id); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	return &m, nil
}

// validate checks the manifest's own consistency, so a damaged or forged
// manifest cannot direct a restore outside its tables and storage.
func (m *Manifest) validate(id string) error {
	if m.Format != FormatVersion {
		return corrupt("unknown format %d", m.Format)
	}
	if m.ID != id {
		return corrupt("the manifest is of backup %q", m.ID)
	}
	if m.Archive == nil || m.Archive.Name != archiveName || m.Archive.Size <= 0 || len(m.Archive.SHA256) != 64 {
		return corrupt("the manifest does not describe the archive")
	}
	if !slices.IsSorted(m.Migrations) || len(slices.Compact(slices.Clone(m.Migrations))) != len(m.Migrations) {
		return corrupt("the migration list is not sorted and unique")
	}
	tables := map[string]bool{}
	for _, t := range m.Tables {
		if t.Name == "" || tables[t.Name] || len(t.Columns) == 0 || t.Rows < 0 {
			return corrupt("table entry %q is invalid", t.Name)
		}
		tables[t.Name] = true
	}
	for _, s := range m.Sequences {
		if !tables[s.Table] {
			return corrupt("sequence %s belongs to table %s, which is not in the backup", s.Name, s.Table)
		}
	}
	seen := map[string]bool{}
	for _, mem := range m.Members {
		if seen[mem.Name] || len(mem.SHA256) != 64 || mem.Size < 0 {
			return corrupt("member %q is listed twice or without a checksum", mem.Name)
		}
		seen[mem.Name] = true
		if t, ok := memberTable(mem.Name); ok {
			if !tables[t] {
				return corrupt("member %s belongs to no table of the manifest", mem.Name)
			}
		} else if _, ok := memberKey(mem.Name); !ok {
			return corrupt("member %q is neither table data nor a storage file", mem.Name)
		}
	}
	return nil
}

// Verify reads backup id completely and checks every member, the row
// counts and the archive against the manifest. It returns the manifest.
func Verify(ctx context.Context, dest Destination, id string) (*Manifest, error) {
	m, err := ReadManifest(ctx, dest, id)
	if err != nil {
		return nil, err
	}
	if err := readArchive(ctx, dest, m, nil); err != nil {
		return nil, fmt.Errorf("backup %s: %w", id, err)
	}
	return m, nil
}
