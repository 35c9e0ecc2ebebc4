package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Entry is one backup in a destination.
type Entry struct {
	ID string `json:"id"`
	// Complete: the manifest is there. Otherwise the backup is in
	// progress, or its process stopped before the end.
	Complete bool      `json:"complete"`
	Time     time.Time `json:"time"` // start time (from the id)
	Manifest *Manifest `json:"manifest,omitempty"`
	// Error says why a complete backup's manifest could not be read.
	Error   string   `json:"error,omitempty"`
	objects []string // object names, for Delete
}

// List returns the backups in dest, newest first. Objects that are not
// part of a backup are ignored (and never deleted).
func List(ctx context.Context, dest Destination) ([]Entry, error) {
	objs, err := dest.List(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Entry{}
	for _, o := range objs {
		id, name, ok := strings.Cut(o.Name, "/")
		t, valid := idTime(id)
		if !ok || !valid || strings.Contains(name, "/") {
			continue
		}
		e := byID[id]
		if e == nil {
			e = &Entry{ID: id, Time: t}
			byID[id] = e
		}
		e.objects = append(e.objects, o.Name)
		if name == manifestName {
			e.Complete = true
		}
	}
	out := make([]Entry, 0, len(byID))
	for _, e := range byID {
		if e.Complete {
			m, err := ReadManifest(ctx, dest, e.ID)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				e.Error = err.Error()
			}
			e.Manifest = m
		}
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// Policy is a retention rule.
type Policy struct {
	// Keep is how many of the newest complete backups are always kept (at
	// least 1: the newest complete backup is never deleted).
	Keep int
	// KeepFor: a complete backup younger than this is kept too. A backup
	// goes only when it is both beyond the newest Keep and older than KeepFor.
	KeepFor time.Duration
	// AbandonedAfter: an incomplete backup (no manifest) started longer ago
	// than this is taken as the leftover of a process that died and is
	// deleted; a younger one may be in progress and is left alone.
	AbandonedAfter time.Duration
}

// Validate refuses a policy that could delete every backup.
func (p Policy) Validate() error {
	if p.Keep < 1 {
		return errors.New("keep must be at least 1 (the newest complete backup is never deleted)")
	}
	if p.KeepFor < 0 || p.AbandonedAfter <= 0 {
		return errors.New("keep-days must not be negative and abandoned-after must be positive")
	}
	return nil
}

// Expired returns the backups of entries (any order) that p deletes at now,
// with the reason for each. Only complete backups with a readable manifest
// count towards Keep; one whose manifest cannot be read is never deleted.
func (p Policy) Expired(entries []Entry, now time.Time) (ids []string, reasons map[string]string) {
	sorted := append([]Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID > sorted[j].ID })
	reasons = map[string]string{}
	complete := 0
	for _, e := range sorted {
		age := now.Sub(e.Time)
		switch {
		case !e.Complete:
			if age > p.AbandonedAfter {
				reasons[e.ID] = fmt.Sprintf("incomplete and started %s ago (abandoned after %s)", age.Round(time.Minute), p.AbandonedAfter)
			}
		case e.Error != "":
			// Unreadable here (damaged, or made by a newer version): neither
			// counted as a good backup nor deleted.
		default:
			complete++
			if complete > max(p.Keep, 1) && age > p.KeepFor {
				reasons[e.ID] = fmt.Sprintf("beyond the newest %d and %s old (kept for %s)", p.Keep, age.Round(time.Minute), p.KeepFor)
			}
		}
		if reasons[e.ID] != "" {
			ids = append(ids, e.ID)
		}
	}
	return ids, reasons
}

// Pruned is a backup that Prune deleted (or would delete).
type Pruned struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Prune deletes the backups that p expires. With dryRun it only reports.
func Prune(ctx context.Context, dest Destination, p Policy, now time.Time, dryRun bool) ([]Pruned, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	entries, err := List(ctx, dest)
	if err != nil {
		return nil, err
	}
	ids, reasons := p.Expired(entries, now)
	var out []Pruned
	for _, id := range ids {
		if !dryRun {
			var objs []string
			for _, e := range entries {
				if e.ID == id {
					objs = e.objects
				}
			}
			// The manifest first: a half-deleted backup then reads as
			// incomplete, never as complete with a missing archive.
			sort.Slice(objs, func(i, j int) bool {
				return strings.HasSuffix(objs[i], "/"+manifestName) && !strings.HasSuffix(objs[j], "/"+manifestName)
			})
			if err := dest.Delete(ctx, objs...); err != nil {
				return out, fmt.Errorf("delete backup %s: %w", id, err)
			}
		}
		out = append(out, Pruned{ID: id, Reason: reasons[id]})
	}
	return out, nil
}
