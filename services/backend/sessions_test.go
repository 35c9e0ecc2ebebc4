package backend_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/contract-lucidity/contract-lucidity/services/internal/accesstoken"
)

// Signing out of one session ends that session's access tokens at once
// (not 30 minutes later), and leaves the user's other sessions alone.
func TestSignOutEndsTheSessionsAccessTokens(t *testing.T) {
	e := newEnv(t)
	e.createUser("leaver@example.com")
	laptop := e.login("leaver@example.com", userPassword+"2")
	phone := e.login("leaver@example.com", userPassword+"2")
	// An access token of the laptop session from before a refresh ...
	older := laptop.Access
	rotated := e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": laptop.Refresh}).want(200)
	e.do("GET", "/api/projects", older, nil).want(200)

	before := e.auditCount("token_revoked")
	e.do("POST", "/api/auth/logout", "", map[string]string{"refresh_token": rotated.str("refresh_token")}).want(204)
	// ... and after it: both refused.
	for _, tok := range []string{older, rotated.str("access_token")} {
		r := e.do("GET", "/api/projects", tok, nil).want(401)
		if r.detail() != "token revoked" {
			t.Fatalf("detail %q", r.detail())
		}
	}
	if e.auditCount("token_revoked") != before+2 {
		t.Fatal("use of a revoked token not audited")
	}
	// The phone is still signed in.
	e.do("GET", "/api/projects", phone.Access, nil).want(200)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": phone.Refresh}).want(200)

	// A client that lost its refresh token signs out with the access token.
	tablet := e.login("leaver@example.com", userPassword+"2")
	e.do("POST", "/api/auth/logout", tablet.Access, map[string]string{}).want(204)
	e.do("GET", "/api/projects", tablet.Access, nil).want(401)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": tablet.Refresh}).want(401)
	e.do("GET", "/api/projects", phone.Access, nil).want(200)
}

// A refresh token replayed by a thief revokes its family, and the access
// tokens of that session with it.
func TestRefreshReuseEndsTheSessionsAccessTokens(t *testing.T) {
	e := newEnv(t)
	e.createUser("victim@example.com")
	s := e.login("victim@example.com", userPassword+"2")
	next := e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}).want(200)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": s.Refresh}).want(401) // replay
	e.do("GET", "/api/projects", next.str("access_token"), nil).want(401)
}

// A password change (by the user or an admin's reset) and "sign out
// everywhere" end every access token issued before, on every session.
func TestPasswordChangeAndSignOutEverywhereEndAllAccessTokens(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("moved@example.com")
	pw := userPassword + "2"
	other := e.login("moved@example.com", pw)

	changed := e.do("POST", "/api/auth/change-password", u.Access, map[string]string{
		"current_password": pw, "new_password": pw + "3"}).want(200)
	for _, tok := range []string{u.Access, other.Access} {
		e.do("GET", "/api/projects", tok, nil).want(401)
	}
	fresh := changed.str("access_token")
	e.do("GET", "/api/projects", fresh, nil).want(200)

	// Sign out everywhere, from one of two sessions.
	second := e.login("moved@example.com", pw+"3")
	e.do("POST", "/api/auth/logout-all", second.Access, nil).want(204)
	for _, tok := range []string{fresh, second.Access} {
		e.do("GET", "/api/projects", tok, nil).want(401)
	}
	for _, rt := range []string{changed.str("refresh_token"), second.Refresh} {
		e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": rt}).want(401)
	}
	if e.auditCount("signed_out_everywhere") != 1 {
		t.Fatal("sign out everywhere not audited")
	}

	// An administrator's password reset signs the user out too.
	third := e.login("moved@example.com", pw+"3")
	e.do("GET", "/api/projects", third.Access, nil).want(200)
	e.do("POST", "/api/users/"+u.User["id"].(string)+"/reset-password", e.admin,
		map[string]string{"password": "Reset-Passw0rd-456"}).want(204)
	e.do("GET", "/api/projects", third.Access, nil).want(401)
	// Other users are untouched.
	e.do("GET", "/api/projects", e.admin, nil).want(200)
}

// JWT key rotation across replicas: a replica with the new key (and the
// old one as previous) accepts the tokens the old replica signed, so
// nobody is signed out; a token whose key id is in no ring is refused.
func TestJWTKeyRotationKeepsSessions(t *testing.T) {
	e := newEnv(t)
	oldKey := e.cfg.JWTSecret
	u := e.createUser("rotating@example.com")

	rotated := *e.cfg
	rotated.JWTSecret = randHex(32)
	rotated.JWTPreviousSecrets = []string{oldKey}
	_, hs, _ := startServer(t, &rotated)
	newReplica := &env{t: t, cfg: &rotated, http: hs}

	newReplica.do("GET", "/api/projects", u.Access, nil).want(200)
	fresh := newReplica.login("rotating@example.com", userPassword+"2")
	h, _, _ := jwt.NewParser().ParseUnverified(fresh.Access, jwt.MapClaims{})
	if h.Header["kid"] != accesstoken.KeyID(rotated.JWTSecret) {
		t.Fatalf("new token kid %v, want the new key's", h.Header["kid"])
	}
	newReplica.do("GET", "/api/projects", fresh.Access, nil).want(200)
	// The old replica does not know the new key yet: it refuses the new
	// token (as a manipulation) rather than accepting anything unknown.
	before := e.auditCount("token_manipulation")
	e.do("GET", "/api/projects", fresh.Access, nil).want(401)
	if e.auditCount("token_manipulation") != before+1 {
		t.Fatal("unknown kid not audited")
	}

	// Once the previous key is dropped, its tokens are refused.
	final := rotated
	final.JWTPreviousSecrets = nil
	_, hs2, _ := startServer(t, &final)
	finalReplica := &env{t: t, cfg: &final, http: hs2}
	finalReplica.do("GET", "/api/projects", u.Access, nil).want(401)
	finalReplica.do("GET", "/api/projects", fresh.Access, nil).want(200)
}
