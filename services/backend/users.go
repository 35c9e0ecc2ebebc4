package backend

import (
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

type userJSON struct {
	ID                 string     `json:"id" format:"uuid"`
	Email              string     `json:"email"`
	Name               string     `json:"name"`
	Role               string     `json:"role" enum:"admin,user"`
	MustChangePassword bool       `json:"must_change_password"`
	Disabled           bool       `json:"disabled"`
	LastLogin          *time.Time `json:"last_login"`
	CreatedAt          time.Time  `json:"created_at"`
}

const userColumns = `id, email, name, role, must_change_password, disabled, last_login, created_at`

func scanUser(row pgx.Row, extra ...any) (userJSON, error) {
	var u userJSON
	dst := append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &u.MustChangePassword, &u.Disabled, &u.LastLogin, &u.CreatedAt}, extra...)
	err := row.Scan(dst...)
	return u, err
}

func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && len(e) <= 254
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	limit, offset, err := pagination(r, 100, 500)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY lower(email) LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (userJSON, error) { return scanUser(row) })
	if err != nil {
		return err
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&total); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page[userJSON]{Items: items, Total: total})
	return nil
}

// createUserRequest: role defaults to user; the password must be changed at
// first sign-in.
type createUserRequest struct {
	Email    string `json:"email" format:"email"`
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty" enum:"admin,user"`
	Password string `json:"password" format:"password"`
}

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	var in createUserRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	in.Email = strings.TrimSpace(in.Email)
	if !validEmail(in.Email) {
		return unprocessable("a valid email is required")
	}
	if in.Role == "" {
		in.Role = "user"
	}
	if in.Role != "admin" && in.Role != "user" {
		return unprocessable("role must be admin or user")
	}
	if len(in.Name) > 200 {
		return unprocessable("name is too long")
	}
	if err := checkPassword(in.Password, in.Email); err != nil {
		return err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return err
	}
	u, err := scanUser(s.pool.QueryRow(r.Context(), `INSERT INTO users (email, name, role, password_hash, must_change_password)
		VALUES ($1, $2, $3, $4, true) RETURNING `+userColumns, in.Email, strings.TrimSpace(in.Name), in.Role, hash))
	if isUniqueViolation(err) {
		return errStatus(http.StatusConflict, "a user with this email exists")
	}
	if err != nil {
		return err
	}
	s.audit(r.Context(), auditEvent{Type: "user_created", UserID: caller(r).ID, Email: caller(r).Email, IP: s.clientIP(r),
		Detail: map[string]any{"target_user_id": u.ID, "role": u.Role}})
	writeJSON(w, http.StatusCreated, u)
	return nil
}

// updateUserRequest changes only the fields present.
type updateUserRequest struct {
	Name     *string `json:"name,omitempty"`
	Role     *string `json:"role,omitempty" enum:"admin,user"`
	Disabled *bool   `json:"disabled,omitempty"`
}

func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in updateUserRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Role != nil && *in.Role != "admin" && *in.Role != "user" {
		return unprocessable("role must be admin or user")
	}
	if in.Name != nil && len(*in.Name) > 200 {
		return unprocessable("name is too long")
	}
	ctx := r.Context()
	var u userJSON
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialise admin changes so two requests cannot remove the last admin.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7262)`); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET
			name = COALESCE($2, name), role = COALESCE($3, role), disabled = COALESCE($4, disabled), updated_at = now()
			WHERE id = $1 RETURNING `+userColumns, id, trimPtr(in.Name), in.Role, in.Disabled))
		if err != nil {
			return err
		}
		var admins int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled`).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 {
			return unprocessable("at least one active admin must remain")
		}
		if u.Disabled {
			_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, id)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.principals.reset()
	s.audit(ctx, auditEvent{Type: "user_updated", UserID: caller(r).ID, Email: caller(r).Email, IP: s.clientIP(r),
		Detail: map[string]any{"target_user_id": u.ID, "role": u.Role, "disabled": u.Disabled}})
	writeJSON(w, http.StatusOK, u)
	return nil
}

func trimPtr(p *string) *string {
	if p == nil {
		return nil
	}
	v := strings.TrimSpace(*p)
	return &v
}

type resetPasswordRequest struct {
	Password string `json:"password" format:"password"`
}

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in resetPasswordRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var email string
	if err := s.pool.QueryRow(ctx, `SELECT email FROM users WHERE id = $1`, id).Scan(&email); err != nil {
		return err
	}
	if err := checkPassword(in.Password, email); err != nil {
		return err
	}
	hash, err := s.hashPassword(in.Password)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, must_change_password = true, updated_at = now()
			WHERE id = $1`, id, hash); err != nil {
			return err
		}
		// Whoever holds the account's tokens is signed out.
		return endAllSessions(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	s.principals.reset()
	s.audit(ctx, auditEvent{Type: "password_reset", UserID: caller(r).ID, Email: caller(r).Email, IP: s.clientIP(r),
		Detail: map[string]any{"target_user_id": id}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleLookupUser(w http.ResponseWriter, r *http.Request) error {
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if email == "" {
		return unprocessable("email is required")
	}
	var out userRef
	err := s.pool.QueryRow(r.Context(), `SELECT id, email, name FROM users WHERE lower(email) = lower($1) AND NOT disabled`, email).
		Scan(&out.ID, &out.Email, &out.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// userRef is the compact user shown on decisions.
type userRef struct {
	ID    string `json:"id" format:"uuid"`
	Name  string `json:"name"`
	Email string `json:"email"`
}
