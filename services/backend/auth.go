package backend

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Password rules: 12 to 72 bytes (bcrypt's limit), at least three of
// lower case, upper case, digits and symbols, not the email address.
func checkPassword(pw, email string) error {
	if len([]rune(pw)) < 12 {
		return unprocessable("password must be at least 12 characters")
	}
	if len(pw) > 72 {
		return unprocessable("password must be at most 72 bytes")
	}
	var lower, upper, digit, other bool
	for _, c := range pw {
		switch {
		case unicode.IsLower(c):
			lower = true
		case unicode.IsUpper(c):
			upper = true
		case unicode.IsDigit(c):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 3 {
		return unprocessable("password must mix at least three of: lower case, upper case, digits, symbols")
	}
	if email != "" && strings.EqualFold(pw, email) {
		return unprocessable("password must not be the email address")
	}
	return nil
}

func (s *Server) hashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.cfg.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Refresh tokens are 32 random bytes, base64url; only their SHA-256 is stored.
func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

type loginRequest struct {
	Email    string `json:"email" format:"email"`
	Password string `json:"password" format:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// logoutRequest names the session to end: its refresh token, or (when the
// client lost it) none, and the bearer access token names it.
type logoutRequest struct {
	RefreshToken string `json:"refresh_token,omitempty"`
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password" format:"password"`
	NewPassword     string `json:"new_password" format:"password"`
}

type tokenResponse struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type" enum:"bearer"`
	ExpiresIn    int      `json:"expires_in"`
	User         userJSON `json:"user"`
}

// issueTokens creates an access token and a refresh token in family (a new
// family when empty) inside tx.
func (s *Server) issueTokens(ctx context.Context, tx pgx.Tx, u userJSON, family string) (*tokenResponse, error) {
	now := time.Now()
	if family == "" {
		family = newUUID()
	}
	var generation int64
	if err := tx.QueryRow(ctx, `SELECT token_generation FROM users WHERE id = $1`, u.ID).Scan(&generation); err != nil {
		return nil, fmt.Errorf("read token generation: %w", err)
	}
	access, err := s.issueAccess(u.ID, u.Role, generation, family, now)
	if err != nil {
		return nil, fmt.Errorf("sign access token: %w", err)
	}
	refresh, hash := newRefreshToken()
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4)`, u.ID, family, hash, now.Add(s.cfg.RefreshTokenTTL)); err != nil {
		return nil, fmt.Errorf("store refresh token: %w", err)
	}
	return &tokenResponse{AccessToken: access, RefreshToken: refresh, TokenType: "bearer",
		ExpiresIn: int(s.cfg.AccessTokenTTL.Seconds()), User: u}, nil
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	ip := s.clientIP(r)
	if err := s.rateLimit(r.Context(), limitLogin, "login:ip:"+ip, s.cfg.RateLimitLoginPerMinute); err != nil {
		return err
	}
	var in loginRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	email := strings.TrimSpace(in.Email)
	if email == "" || in.Password == "" {
		return unprocessable("email and password are required")
	}
	ctx := r.Context()
	if err := s.checkAccountLock(ctx, email, ip); err != nil {
		return err
	}
	var hash string
	var disabled bool
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE lower(email) = lower($1)`, email), &hash)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if found {
		disabled = u.Disabled
	} else {
		hash = string(s.dummyHash)
	}
	// Always run one bcrypt comparison so timing does not reveal whether
	// the email exists.
	ok := bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) == nil
	if !found || !ok || disabled {
		reason := "wrong password"
		switch {
		case !found:
			reason = "unknown user"
		case disabled && ok:
			reason = "disabled"
		}
		var uid any
		if found {
			uid = u.ID
		}
		s.audit(ctx, auditEvent{Type: "login_failed", UserID: uid, Email: email, IP: ip, Detail: map[string]any{"reason": reason}})
		if err := s.noteLoginFailure(ctx, email); err != nil {
			return err
		}
		return errBadCredentials
	}
	if err := s.clearLoginFailures(ctx, email); err != nil {
		return err
	}
	var resp *tokenResponse
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `UPDATE users SET last_login = now() WHERE id = $1 RETURNING last_login`, u.ID).Scan(&u.LastLogin); err != nil {
			return err
		}
		resp, err = s.issueTokens(ctx, tx, u, "")
		return err
	})
	if err != nil {
		return err
	}
	s.audit(ctx, auditEvent{Type: "login_succeeded", UserID: u.ID, Email: u.Email, IP: ip})
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleRefresh is limited per client address like sign-in, but stays open
// when Redis is down: a refresh token is 256 random bits (nothing to
// guess), and refusing refreshes would sign every web session out.
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	if err := s.rateLimit(r.Context(), limitRefresh, "refresh:ip:"+s.clientIP(r), s.cfg.RateLimitRefreshPerMinute); err != nil {
		return err
	}
	var in refreshRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.RefreshToken == "" {
		return unprocessable("refresh_token is required")
	}
	ctx := r.Context()
	invalid := &apiError{Status: http.StatusUnauthorized, Detail: "invalid refresh token"}
	var resp *tokenResponse
	var reused *auditEvent
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id, userID, family string
		var expires time.Time
		var rotated, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at
			FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`, hashToken(in.RefreshToken)).
			Scan(&id, &userID, &family, &expires, &rotated, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid
		}
		if err != nil {
			return err
		}
		if rotated != nil || revoked != nil {
			// A rotated (or revoked) token presented again: someone holds
			// a copy. Revoke the whole family.
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now()
				WHERE family_id = $1 AND revoked_at IS NULL`, family); err != nil {
				return err
			}
			reused = &auditEvent{Type: "token_manipulation", UserID: userID, IP: s.clientIP(r),
				Detail: map[string]any{"reason": "refresh token reuse", "family_id": family}}
			return nil
		}
		if time.Now().After(expires) {
			return invalid
		}
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, userID))
		if err != nil {
			return err
		}
		if u.Disabled {
			return invalid
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		resp, err = s.issueTokens(ctx, tx, u, family)
		return err
	})
	if err != nil {
		return err
	}
	if reused != nil {
		s.principals.reset()
		s.audit(ctx, *reused)
		return invalid
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleLogout ends one session: its refresh token family is revoked, and
// with it every access token of the session (they carry the family as
// "sid"). Other sessions of the user stay signed in; /api/auth/logout-all
// ends them all. The session is named by the refresh token, or by the
// bearer access token when the client has no refresh token.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	if err := s.rateLimit(r.Context(), limitRefresh, "refresh:ip:"+s.clientIP(r), s.cfg.RateLimitRefreshPerMinute); err != nil {
		return err
	}
	var in logoutRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	if in.RefreshToken != "" {
		if _, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now()
			WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`,
			hashToken(in.RefreshToken)); err != nil {
			return err
		}
	}
	if bearerToken(r) != "" {
		// Only a genuine, unexpired token of ours names a session.
		if c, err := s.tokens.Verify(bearerToken(r)); err == nil && validUUID(c.Session) && validUUID(c.Subject) {
			if _, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now()
				WHERE revoked_at IS NULL AND family_id = $1 AND user_id = $2`, c.Session, c.Subject); err != nil {
				return err
			}
		}
	}
	s.principals.reset()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleLogoutAll signs the caller out everywhere: every refresh token is
// revoked and the token generation bumped, so every access token issued so
// far is refused, this one included.
func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	ctx := r.Context()
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return endAllSessions(ctx, tx, p.ID) }); err != nil {
		return err
	}
	s.principals.reset()
	s.audit(ctx, auditEvent{Type: "signed_out_everywhere", UserID: p.ID, Email: p.Email, IP: s.clientIP(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endAllSessions revokes every refresh token of a user and invalidates
// every access token issued so far.
func endAllSessions(ctx context.Context, tx pgx.Tx, userID string) error {
	if _, err := tx.Exec(ctx, `UPDATE users SET token_generation = token_generation + 1 WHERE id = $1`, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL`, userID)
	return err
}

func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	p := caller(r)
	var in changePasswordRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var hash string
	if err := s.pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, p.ID).Scan(&hash); err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.CurrentPassword)) != nil {
		s.audit(ctx, auditEvent{Type: "password_change_failed", UserID: p.ID, Email: p.Email, IP: s.clientIP(r)})
		return unprocessable("current password is wrong")
	}
	if err := checkPassword(in.NewPassword, p.Email); err != nil {
		return err
	}
	if in.NewPassword == in.CurrentPassword {
		return unprocessable("new password must differ from the current one")
	}
	newHash, err := s.hashPassword(in.NewPassword)
	if err != nil {
		return err
	}
	var resp *tokenResponse
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, must_change_password = false, updated_at = now()
			WHERE id = $1`, p.ID, newHash); err != nil {
			return err
		}
		// Every session, this one included, ends with the old password;
		// the caller continues with the new tokens.
		if err := endAllSessions(ctx, tx, p.ID); err != nil {
			return err
		}
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, p.ID))
		if err != nil {
			return err
		}
		resp, err = s.issueTokens(ctx, tx, u, "")
		return err
	})
	if err != nil {
		return err
	}
	s.principals.reset()
	s.audit(ctx, auditEvent{Type: "password_changed", UserID: p.ID, Email: p.Email, IP: s.clientIP(r)})
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	u, err := scanUser(s.pool.QueryRow(r.Context(), `SELECT `+userColumns+` FROM users WHERE id = $1`, caller(r).ID))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// Failed sign-ins are counted per account (any client address, so spreading
// a password guessing run over many addresses does not help) in Redis,
// shared by every replica. Unknown emails are counted the same way, so a
// lock says nothing about whether an account exists. The key is a hash of
// the lower-cased email: no address is stored in Redis.
func loginFailKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "cl:loginfail:" + hex.EncodeToString(sum[:16])
}

// checkAccountLock refuses a sign-in (429 with Retry-After) while the
// account has LoginMaxFailures failures in a row, before any password check.
func (s *Server) checkAccountLock(ctx context.Context, email, ip string) error {
	if s.cfg.LoginMaxFailures == 0 {
		return nil
	}
	key := loginFailKey(email)
	n, err := s.rdb.Get(ctx, key).Int()
	if errors.Is(err, redis.Nil) || (err == nil && n < s.cfg.LoginMaxFailures) {
		return nil
	}
	if err != nil {
		return s.limiterOutage(ctx, limitLogin, err)
	}
	ttl, err := s.rdb.TTL(ctx, key).Result()
	if err != nil {
		return s.limiterOutage(ctx, limitLogin, err)
	}
	s.audit(ctx, auditEvent{Type: "login_locked", Email: email, IP: ip, Detail: map[string]any{"failures": n}})
	return &apiError{Status: http.StatusTooManyRequests, Detail: "too many failed sign-ins for this account; try again later",
		RetryAfter: max(1, int(math.Ceil(ttl.Seconds())))}
}

// noteLoginFailure counts a failed sign-in; the count expires LoginLockout
// after the last failure.
func (s *Server) noteLoginFailure(ctx context.Context, email string) error {
	if s.cfg.LoginMaxFailures == 0 {
		return nil
	}
	key := loginFailKey(email)
	pipe := s.rdb.TxPipeline()
	pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, s.cfg.LoginLockout)
	if _, err := pipe.Exec(ctx); err != nil {
		return s.limiterOutage(ctx, limitLogin, err)
	}
	return nil
}

// clearLoginFailures resets the count after a successful sign-in.
func (s *Server) clearLoginFailures(ctx context.Context, email string) error {
	if s.cfg.LoginMaxFailures == 0 {
		return nil
	}
	if err := s.rdb.Del(ctx, loginFailKey(email)).Err(); err != nil {
		return s.limiterOutage(ctx, limitLogin, err)
	}
	return nil
}
