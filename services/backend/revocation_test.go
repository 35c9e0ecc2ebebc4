package backend_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/backend"
)

// replica is a second backend on the same database and Redis as e.
func (e *env) replica() *env {
	e.t.Helper()
	srv, err := backend.New(context.Background(), e.cfg, backend.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(func() { hs.Close(); srv.Close() })
	return &env{t: e.t, cfg: e.cfg, srv: srv, http: hs, logs: e.logs, rdb: e.rdb, db: e.db, admin: e.admin}
}

// revocationBound is the rule: a revocation made through one replica is
// refused by every other within a second.
const revocationBound = time.Second

// Principals are cached for a moment, so revocation through one replica
// must still reach another within a second: disabling a user, signing out
// (one session, or everywhere), a password change or reset, and a role
// change. The replica that made the change refuses at once.
func TestRevocationReachesOtherReplicasWithinASecond(t *testing.T) {
	a := newEnv(t)
	revocationReachesReplica(t, a, a.replica())
}

// The same with two backend processes of the real binary, as two pods
// are: nothing shared but PostgreSQL and Redis.
func TestRevocationReachesOtherBackendProcessesWithinASecond(t *testing.T) {
	a, b := processReplicas(t)
	revocationReachesReplica(t, a, b)
}

// revocationReachesReplica revokes through a and checks that b refuses
// within revocationBound.
func revocationReachesReplica(t *testing.T, a, b *env) {
	project := a.createProject(a.admin, "Revocation")
	page := "/api/projects/" + project + "/documents"

	// warm makes both replicas load (and cache) the principal behind tok.
	warm := func(tok string) {
		t.Helper()
		for range 3 {
			a.do("GET", "/api/projects", tok, nil).want(200)
			b.do("GET", "/api/projects", tok, nil).want(200)
		}
	}
	// refused checks the token right after the revocation on a, and on b
	// once the bound has passed since the revocation was answered.
	refused := func(what, path, tok string, status int, revoked time.Time) {
		t.Helper()
		if r := a.do("GET", path, tok, nil); r.status != status {
			t.Errorf("%s: the replica that made the change answered %d, want %d at once", what, r.status, status)
		}
		time.Sleep(time.Until(revoked.Add(revocationBound)))
		if r := b.do("GET", path, tok, nil); r.status != status {
			t.Errorf("%s: the other replica still answers %d %s a second later", what, r.status, r.body)
		}
	}

	t.Run("disable", func(t *testing.T) {
		u := a.createUser("disabled@example.com")
		warm(u.Access)
		a.do("PATCH", "/api/users/"+u.User["id"].(string), a.admin, map[string]any{"disabled": true}).want(200)
		refused("disabled user", "/api/projects", u.Access, 401, time.Now())
	})
	t.Run("sign out", func(t *testing.T) {
		u := a.createUser("signout@example.com")
		warm(u.Access)
		a.do("POST", "/api/auth/logout", u.Access, map[string]string{"refresh_token": u.Refresh}).want(204)
		refused("signed-out session", "/api/projects", u.Access, 401, time.Now())
	})
	t.Run("sign out everywhere", func(t *testing.T) {
		u := a.createUser("everywhere@example.com")
		other := a.login("everywhere@example.com", userPassword+"2")
		warm(u.Access)
		warm(other.Access)
		a.do("POST", "/api/auth/logout-all", u.Access, nil).want(204)
		revoked := time.Now()
		refused("signed out everywhere", "/api/projects", u.Access, 401, revoked)
		refused("the other session", "/api/projects", other.Access, 401, revoked)
	})
	t.Run("password change", func(t *testing.T) {
		u := a.createUser("password@example.com")
		warm(u.Access)
		r := a.do("POST", "/api/auth/change-password", u.Access, map[string]string{"current_password": userPassword + "2", "new_password": userPassword + "3"}).want(200)
		refused("token from before a password change", "/api/projects", u.Access, 401, time.Now())
		b.do("GET", "/api/projects", r.str("access_token"), nil).want(200)
	})
	t.Run("password reset by an admin", func(t *testing.T) {
		u := a.createUser("reset@example.com")
		warm(u.Access)
		a.do("POST", "/api/users/"+u.User["id"].(string)+"/reset-password", a.admin, map[string]string{"password": "Reset-Passw0rd-Long!"}).want(204)
		refused("token from before a reset", "/api/projects", u.Access, 401, time.Now())
	})
	t.Run("role change", func(t *testing.T) {
		u := a.createUser("demoted@example.com")
		a.do("PATCH", "/api/users/"+u.User["id"].(string), a.admin, map[string]any{"role": "admin"}).want(200)
		admin := a.login("demoted@example.com", userPassword+"2").Access
		for range 3 {
			a.do("GET", "/api/users", admin, nil).want(200)
			b.do("GET", "/api/users", admin, nil).want(200)
		}
		a.do("PATCH", "/api/users/"+u.User["id"].(string), a.admin, map[string]any{"role": "user"}).want(200)
		refused("demoted admin", "/api/users", admin, 403, time.Now())
		b.do("GET", page, admin, nil).want(404) // a user, not a member: the project is invisible
	})
}
