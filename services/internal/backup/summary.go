package backup

import "time"

// Summary is what `backup create`, `backup list` and `backup verify` print
// with -o json: a stable shape for machines (the operator parses it).
type Summary struct {
	ID           string           `json:"id"`
	Destination  string           `json:"destination,omitempty"`
	Complete     bool             `json:"complete"`
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   time.Time        `json:"finished_at,omitzero"`
	SnapshotAt   time.Time        `json:"snapshot_at,omitzero"`
	SizeBytes    int64            `json:"size_bytes"`
	AppVersion   string           `json:"app_version,omitempty"`
	Migration    string           `json:"migration,omitempty"`
	Rows         map[string]int64 `json:"rows,omitempty"`
	Files        int              `json:"files"`
	FileBytes    int64            `json:"file_bytes"`
	FileProblems []FileProblem    `json:"file_problems,omitempty"`
	Error        string           `json:"error,omitempty"`
}

// Summary of a complete backup.
func (m *Manifest) Summary() Summary {
	s := Summary{ID: m.ID, Complete: true, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, SnapshotAt: m.SnapshotAt,
		AppVersion: m.AppVersion, Migration: m.Migration(), Rows: map[string]int64{},
		Files: m.Files.Count, FileBytes: m.Files.Bytes, FileProblems: m.FileProblems}
	if m.Archive != nil {
		s.SizeBytes = m.Archive.Size
	}
	for _, t := range m.Tables {
		s.Rows[t.Name] = t.Rows
	}
	return s
}

// Summary of a listed backup, complete or not.
func (e Entry) Summary() Summary {
	if e.Manifest != nil {
		return e.Manifest.Summary()
	}
	return Summary{ID: e.ID, Complete: e.Complete, StartedAt: e.Time, Error: e.Error}
}
