package backup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/backup"
)

func id(t time.Time, suffix string) string { return t.UTC().Format("20060102T150405Z") + "-" + suffix }

// The retention rule, on its own: a complete backup goes only when it is
// beyond the newest Keep and older than KeepFor; incomplete ones only when
// abandoned; unreadable ones never.
func TestPolicyExpired(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	entry := func(age time.Duration, complete bool, suffix string) backup.Entry {
		return backup.Entry{ID: id(now.Add(-age), suffix), Time: now.Add(-age).Truncate(time.Second), Complete: complete}
	}
	unreadable := entry(90*day, true, "0000ee")
	unreadable.Error = "format 9"
	all := []backup.Entry{
		entry(time.Hour, true, "00000a"), entry(2*day, true, "00000b"), entry(10*day, true, "00000c"),
		entry(40*day, true, "00000d"), entry(50*day, true, "00000e"),
		entry(time.Hour, false, "0000aa"), entry(3*day, false, "0000bb"), unreadable,
	}
	cases := []struct {
		name   string
		policy backup.Policy
		in     []backup.Entry
		want   []string
	}{
		{"keep 2, 30 days", backup.Policy{Keep: 2, KeepFor: 30 * day, AbandonedAfter: day}, all,
			[]string{all[3].ID, all[4].ID, all[6].ID}},
		{"keep 4, 30 days: only the fifth complete one goes", backup.Policy{Keep: 4, KeepFor: 30 * day, AbandonedAfter: day}, all,
			[]string{all[4].ID, all[6].ID}},
		{"keep 1, 0 days: only the newest complete stays", backup.Policy{Keep: 1, KeepFor: 0, AbandonedAfter: day}, all,
			[]string{all[1].ID, all[2].ID, all[3].ID, all[4].ID, all[6].ID}},
		{"keep 1, 0 days, the newest is old: it stays", backup.Policy{Keep: 1, KeepFor: 0, AbandonedAfter: day}, all[3:5],
			[]string{all[4].ID}},
		{"nothing is old enough", backup.Policy{Keep: 1, KeepFor: 365 * day, AbandonedAfter: 7 * day}, all, nil},
		{"an in-progress backup is not abandoned yet", backup.Policy{Keep: 1, KeepFor: 365 * day, AbandonedAfter: 2 * time.Hour}, all[5:6], nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reasons := c.policy.Expired(c.in, now)
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("expired %v, want %v (reasons %v)", got, want, reasons)
			}
			for _, g := range got {
				if reasons[g] == "" {
					t.Errorf("%s has no reason", g)
				}
			}
		})
	}
	if err := (backup.Policy{Keep: 0, AbandonedAfter: day}).Validate(); err == nil {
		t.Fatal("keep 0 accepted")
	}
}

// Prune on a real destination deletes exactly the expired backups (all of
// their objects) and leaves the rest, in-progress backups and objects that
// are not backups alone.
func TestPruneDeletesOnlyExpiredBackups(t *testing.T) {
	src := newInstance(t)
	populate(t, src, 1)
	root := t.TempDir()
	dest, err := backup.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	real := create(t, src, dest)
	manifest, _ := os.ReadFile(filepath.Join(root, real.ID, "manifest.json"))
	archive, _ := os.ReadFile(filepath.Join(root, real.ID, "data.tar.gz"))
	now := time.Now()
	day := 24 * time.Hour
	write := func(name string, b []byte) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o750)
		if err := os.WriteFile(filepath.Join(root, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(age time.Duration, suffix string) string {
		i := id(now.Add(-age), suffix)
		var m map[string]any
		json.Unmarshal(manifest, &m)
		m["id"] = i
		b, _ := json.Marshal(m)
		write(i+"/data.tar.gz", archive)
		write(i+"/manifest.json", b)
		return i
	}
	recent, old40, old50 := complete(2*day, "00000b"), complete(40*day, "00000d"), complete(50*day, "00000e")
	running := id(now.Add(-time.Hour), "0000aa")
	write(running+"/started.json", []byte(`{}`))
	write(running+"/data.tar.gz.partial-1234", []byte("half"))
	abandoned := id(now.Add(-3*day), "0000bb")
	write(abandoned+"/started.json", []byte(`{}`))
	write(abandoned+"/data.tar.gz.partial-5678", []byte("half"))
	unreadable := id(now.Add(-90*day), "0000ee")
	write(unreadable+"/manifest.json", []byte(`{"format": 99}`))
	write("notes.txt", []byte("not a backup"))
	write("other/20200101T000000Z-abcdef.txt", []byte("not a backup either"))

	entries, err := backup.List(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 7 || entries[0].ID != real.ID || !entries[0].Complete || entries[0].Manifest.Rows() != real.Rows() {
		t.Fatalf("list: %+v", entries)
	}

	policy := backup.Policy{Keep: 2, KeepFor: 30 * day, AbandonedAfter: day}
	dry, err := backup.Prune(context.Background(), dest, policy, now, true)
	if err != nil || len(dry) != 3 {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	if _, err := os.Stat(filepath.Join(root, old40, "manifest.json")); err != nil {
		t.Fatal("the dry run deleted something")
	}
	pruned, err := backup.Prune(context.Background(), dest, policy, now, false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pruned {
		ids = append(ids, p.ID)
	}
	slices.Sort(ids)
	want := []string{old50, old40, abandoned}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("pruned %v, want %v", ids, want)
	}
	for _, gone := range want {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still has objects: %v", gone, err)
		}
	}
	for _, kept := range []string{real.ID + "/manifest.json", real.ID + "/data.tar.gz", recent + "/manifest.json",
		running + "/started.json", running + "/data.tar.gz.partial-1234", unreadable + "/manifest.json", "notes.txt",
		"other/20200101T000000Z-abcdef.txt"} {
		if _, err := os.Stat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s was deleted: %v", kept, err)
		}
	}
	// The real backup is still intact and restorable.
	if _, err := backup.Verify(context.Background(), dest, real.ID); err != nil {
		t.Fatal(err)
	}

	// Keep 1 for 0 days: the newest complete backup always stays.
	if _, err := backup.Prune(context.Background(), dest, backup.Policy{Keep: 1, AbandonedAfter: day}, now.Add(400*day), false); err != nil {
		t.Fatal(err)
	}
	entries, _ = backup.List(context.Background(), dest)
	var left []string
	for _, e := range entries {
		left = append(left, fmt.Sprintf("%s complete=%v", e.ID, e.Complete))
	}
	if len(entries) != 2 || entries[0].ID != real.ID || entries[1].ID != unreadable {
		t.Fatalf("after pruning everything prunable: %v", left)
	}
}
