package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/accesstoken"
)

// Access tokens are stateless JWTs signed by the key ring (accesstoken).
// Two facts in the database end them before they expire, checked in the
// same query that loads the user on every request:
//   - gen: the user's token_generation, bumped by a password change, an
//     admin password reset and "sign out everywhere";
//   - sid: the refresh token family (one per sign-in); signing out of one
//     session, or a detected refresh token reuse, revokes the family and
//     with it every access token of that session, and no other session.

// principal is the authenticated caller, loaded from the database and
// reused for at most principalTTL (principalcache.go), so that disabling a
// user or changing a role takes effect within a second on every replica,
// and at once on the one that made the change.
type principal struct {
	ID         string
	Email      string
	Name       string
	Role       string
	MustChange bool
}

func (p *principal) admin() bool { return p.Role == "admin" }

type ctxKey struct{}

func withPrincipal(ctx context.Context, p *principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// caller returns the authenticated principal (routes behind auth always have one).
func caller(r *http.Request) *principal {
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	return p
}

// issueAccess signs an access token for the user's current generation and
// session (refresh token family).
func (s *Server) issueAccess(userID, role string, generation int64, session string, now time.Time) (string, error) {
	return s.tokens.Sign(accesstoken.Claims{Role: role, Generation: &generation, Session: session,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        newUUID(),
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTokenTTL)),
		}})
}

// authenticate resolves the bearer token to a principal and, when
// perMinute > 0, consumes the user's API rate limit in Redis concurrently
// with the user lookup in PostgreSQL (the token's signature is verified
// first, so the key is a genuine user id). The user is noted for the request
// log even when the rate limit refuses the call.
func (s *Server) authenticate(r *http.Request, perMinute int) (*principal, error) {
	claims, err := s.verifyBearer(r)
	if err != nil {
		return nil, err
	}
	var limitErr error
	done := make(chan struct{})
	if perMinute > 0 {
		go func() {
			defer close(done)
			limitErr = s.rateLimit(r.Context(), limitAPI, "api:user:"+claims.Subject, perMinute)
		}()
	} else {
		close(done)
	}
	p, err := s.loadPrincipal(r.Context(), claims)
	<-done
	if errors.Is(err, errTokenRevoked) {
		return nil, s.rejectToken(r, "token_revoked", "signed out or password changed", claims.Subject)
	}
	if err != nil {
		return nil, err
	}
	noteUser(r.Context(), p.ID)
	if limitErr != nil {
		return nil, limitErr
	}
	return p, nil
}

// verifyBearer checks the Authorization header's token, auditing rejections.
func (s *Server) verifyBearer(r *http.Request) (*accesstoken.Claims, error) {
	raw := bearerToken(r)
	if raw == "" {
		return nil, errUnauthorized
	}
	now := time.Now()
	if c := s.verified.get(raw, now); c != nil {
		return c, nil
	}
	claims, err := s.tokens.Verify(raw)
	var te *accesstoken.Error
	switch {
	case errors.As(err, &te) && te.Expired:
		return nil, s.rejectToken(r, "token_expired", te.Reason, nil)
	case errors.As(err, &te):
		return nil, s.rejectToken(r, "token_manipulation", te.Reason, nil)
	case err != nil:
		return nil, err
	}
	// Signed with our key, so these hold unless the key leaked.
	if !validUUID(claims.Subject) || !validUUID(claims.Session) {
		return nil, s.rejectToken(r, "token_manipulation", "invalid subject or session", nil)
	}
	s.verified.put(raw, claims, now)
	return claims, nil
}

// bearerToken is the token of an "Authorization: Bearer" header, or "".
func bearerToken(r *http.Request) string {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(raw)
}

// rejectToken audits a refused access token, at most at the API rate per
// client address, so junk tokens cannot flood the audit log, and returns
// the 401.
func (s *Server) rejectToken(r *http.Request, event, reason string, userID any) error {
	ip := s.clientIP(r)
	if err := s.rateLimit(r.Context(), limitBadToken, "badtoken:ip:"+ip, s.cfg.RateLimitAPIPerMinute); err != nil {
		return err
	}
	s.audit(r.Context(), auditEvent{Type: event, UserID: userID, IP: ip,
		Detail: map[string]any{"reason": reason, "method": r.Method, "path": r.URL.Path}})
	switch event {
	case "token_expired":
		return &apiError{Status: http.StatusUnauthorized, Detail: "token expired"}
	case "token_revoked":
		return &apiError{Status: http.StatusUnauthorized, Detail: "token revoked"}
	}
	return &apiError{Status: http.StatusUnauthorized, Detail: "invalid token"}
}

var errTokenRevoked = errors.New("access token revoked")

// loadPrincipal reads the user behind a verified token, or takes it from
// the cache; a deleted or disabled user is 401, a token of an older
// generation or of a revoked session is errTokenRevoked.
func (s *Server) loadPrincipal(ctx context.Context, c *accesstoken.Claims) (*principal, error) {
	key := principalKey{user: c.Subject, session: c.Session, generation: *c.Generation}
	p, epoch := s.principals.get(key)
	if p != nil {
		return p, nil
	}
	start := time.Now()
	p, err := s.queryPrincipal(ctx, c)
	if err == nil {
		s.principals.put(key, p, epoch, start)
	}
	return p, err
}

func (s *Server) queryPrincipal(ctx context.Context, c *accesstoken.Claims) (*principal, error) {
	p := &principal{}
	var disabled, sessionRevoked bool
	var generation int64
	err := s.pool.QueryRow(ctx, `SELECT id, email, name, role, must_change_password, disabled, token_generation,
			EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $2 AND revoked_at IS NOT NULL)
		FROM users WHERE id = $1`, c.Subject, c.Session).
		Scan(&p.ID, &p.Email, &p.Name, &p.Role, &p.MustChange, &disabled, &generation, &sessionRevoked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && disabled) {
		return nil, &apiError{Status: http.StatusUnauthorized, Detail: "invalid token"}
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	if sessionRevoked || generation != *c.Generation {
		return nil, errTokenRevoked
	}
	return p, nil
}
