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

// knownFileTypes are the extensions an admin may enable.
var knownFileTypes = []string{"pdf", "docx", "png", "jpg", "jpeg", "tiff", "tif"}

// loadSettings reads system_config, falling back to the seeded defaults.
func (s *Server) loadSettings(ctx context.Context) (settingsJSON, error) {
	out := settingsJSON{SupportedFileTypes: db.DefaultFileTypes, MaxUploadSizeMB: s.cfg.MaxUploadSizeMB}
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
				out.SupportedFileTypes = v
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
		if !slices.Contains(knownFileTypes, t) {
			return unprocessable("unknown file type %q (known: %s)", t, strings.Join(knownFileTypes, ", "))
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
