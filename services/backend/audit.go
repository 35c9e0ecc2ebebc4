package backend

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
)

// auditEvent is one row of audit_events. Detail must never hold secrets.
type auditEvent struct {
	Type   string
	UserID any // string or nil
	Email  string
	IP     string
	Detail map[string]any
}

// audit records a security event. Failures are logged, never returned: the
// request's outcome does not depend on the audit write.
func (s *Server) audit(ctx context.Context, e auditEvent) {
	detail := e.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, _ := json.Marshal(detail)
	var email, ip any
	if e.Email != "" {
		email = e.Email
	}
	if e.IP != "" {
		ip = e.IP
	}
	// Detach from the request: a client hanging up must not lose the event.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(actx, `INSERT INTO audit_events (event_type, user_id, email, ip, detail)
		VALUES ($1, $2, $3, $4, $5)`, e.Type, e.UserID, email, ip, b); err != nil {
		s.log.Error("audit write failed", "event_type", e.Type, "error", err)
		return
	}
	s.log.Info("audit", "event_type", e.Type, "user_id", e.UserID, "ip", e.IP)
}

type auditEventJSON struct {
	ID        int64           `json:"id"`
	EventType string          `json:"event_type"`
	UserID    *string         `json:"user_id" format:"uuid"`
	Email     *string         `json:"email"`
	IP        *string         `json:"ip"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := pagination(r, 100, 500)
	if err != nil {
		return err
	}
	et := r.URL.Query().Get("event_type")
	ctx := r.Context()
	rows, err := s.pool.Query(ctx, `SELECT id, event_type, user_id::text, email, ip, detail, created_at FROM audit_events
		WHERE ($1 = '' OR event_type = $1) ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`, et, limit, offset)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (auditEventJSON, error) {
		var a auditEventJSON
		err := row.Scan(&a.ID, &a.EventType, &a.UserID, &a.Email, &a.IP, &a.Detail, &a.CreatedAt)
		return a, err
	})
	if err != nil {
		return err
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE ($1 = '' OR event_type = $1)`, et).Scan(&total); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[auditEventJSON]{Items: items, Total: total})
	return nil
}
