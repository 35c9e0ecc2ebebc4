package backend

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/db"
)

type settingsJSON struct {
	SupportedFileTypes []string `json:"supported_file_types"`
	MaxUploadSizeMB    int      `json:"max_upload_size_mb"`
}

// allowedFileTypes is what admins may enable: SUPPORTED_FILE_TYPES (the
// operator's bound), or every type the product handles.
func (s *Server) allowedFileTypes() []string {
	if len(s.cfg.SupportedFileTypes) > 0 {
		return s.cfg.SupportedFileTypes
	}
	return db.DefaultFileTypes
}

// loadSettings reads system_config (the admin's choice), bounded by the
// environment: only types in SUPPORTED_FILE_TYPES, at most MAX_UPLOAD_SIZE_MB.
func (s *Server) loadSettings(ctx context.Context) (settingsJSON, error) {
	out := settingsJSON{SupportedFileTypes: s.allowedFileTypes(), MaxUploadSizeMB: s.cfg.MaxUploadSizeMB}
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM system_config WHERE key IN ('supported_file_types', 'max_upload_size_mb')`)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var value []byte
		if err := rows.Scan(&key, &value); err != nil {
			return out, err
		}
		switch key {
		case "supported_file_types":
			var v []string
			if json.Unmarshal(value, &v) == nil {
				allowed := s.allowedFileTypes()
				out.SupportedFileTypes = slices.DeleteFunc(v, func(t string) bool { return !slices.Contains(allowed, t) })
			}
		case "max_upload_size_mb":
			var n json.Number
			if json.Unmarshal(value, &n) == nil {
				if v, err := strconv.Atoi(n.String()); err == nil && v > 0 {
					out.MaxUploadSizeMB = min(v, s.cfg.MaxUploadSizeMB)
				}
			}
		}
	}
	return out, rows.Err()
}

func (s *Server) handleGetSettings(w http.ResponseWriter, r *http.Request) error {
	st, err := s.loadSettings(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) handlePutSettings(w http.ResponseWriter, r *http.Request) error {
	var in settingsJSON
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	types := []string{}
	for _, t := range in.SupportedFileTypes {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "."))
		if allowed := s.allowedFileTypes(); !slices.Contains(allowed, t) {
			return unprocessable("file type %q is not allowed here (allowed: %s)", t, strings.Join(allowed, ", "))
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return unprocessable("at least one file type must be supported")
	}
	if in.MaxUploadSizeMB < 1 || in.MaxUploadSizeMB > s.cfg.MaxUploadSizeMB {
		return unprocessable("max_upload_size_mb must be between 1 and %d (MAX_UPLOAD_SIZE_MB)", s.cfg.MaxUploadSizeMB)
	}
	tb, _ := json.Marshal(types)
	p := caller(r)
	ctx := r.Context()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO system_config (key, value, updated_by, updated_at) VALUES
			('supported_file_types', $1, $3, now()), ('max_upload_size_mb', $2, $3, now())
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()`,
			string(tb), strconv.Itoa(in.MaxUploadSizeMB), p.ID)
		return err
	})
	if err != nil {
		return err
	}
	s.audit(ctx, auditEvent{Type: "settings_changed", UserID: p.ID, Email: p.Email, IP: s.clientIP(r),
		Detail: map[string]any{"supported_file_types": types, "max_upload_size_mb": in.MaxUploadSizeMB}})
	writeJSON(w, http.StatusOK, settingsJSON{SupportedFileTypes: types, MaxUploadSizeMB: in.MaxUploadSizeMB})
	return nil
}
