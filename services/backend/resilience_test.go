package backend_test

import (
	"strings"
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
	"github.com/contract-lucidity/contract-lucidity/services/internal/testenv"
)

// With Redis gone (the real server killed), reads and ordinary API calls
// go on without the per-user limit, refreshes keep web sessions alive, and
// only sign-in and uploads answer 503 with Retry-After; all of it is
// logged and counted.
func TestRedisOutageDegradesInsteadOfFailing(t *testing.T) {
	own := testenv.RedisTB(t)
	e := newEnv(t, func(c *config.Config) { c.RedisURL = own.URL(0) })
	u := e.createUser("reader@example.com")
	p := e.createProject(e.admin, "Outage")
	e.upload(e.admin, p, "before.pdf", pdfBytes).want(202)

	own.Stop()

	e.do("GET", "/api/projects", e.admin, nil).want(200)
	e.do("GET", "/api/projects/"+p+"/documents", e.admin, nil).want(200)
	e.do("GET", "/api/auth/me", u.Access, nil).want(200)
	e.do("POST", "/api/projects", e.admin, map[string]string{"name": "During the outage"}).want(201)
	refreshed := e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": u.Refresh}).want(200)
	e.do("GET", "/api/projects", refreshed.str("access_token"), nil).want(200)
	// Rejected tokens are still refused (and audited).
	e.do("GET", "/api/projects", "junk.token.here", nil).want(401)

	login := e.do("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": newAdminPass}).want(503)
	up := e.upload(e.admin, p, "during.pdf", pdfBytes).want(503)
	for _, r := range []*response{login, up} {
		if r.header.Get("Retry-After") == "" || !strings.Contains(r.detail(), "temporarily unavailable") {
			t.Fatalf("503 without Retry-After or a readable message: %v %s", r.header, r.body)
		}
	}

	rd := e.do("GET", "/readyz", "", nil).want(200)
	if rd.json["redis"] != "unreachable" || rd.json["postgres"] != "ok" {
		t.Fatalf("readyz: %s", rd.body)
	}
	m := e.metrics()
	for _, want := range []string{
		`cl_rate_limiter_unavailable_total{limit="api",outcome="allowed"}`,
		`cl_rate_limiter_unavailable_total{limit="login",outcome="refused"}`,
		`cl_rate_limiter_unavailable_total{limit="upload",outcome="refused"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(e.logs.String(), "rate limiter unavailable") {
		t.Error("outage not logged")
	}
}

// With PostgreSQL stopped (a real server shut down), every API call answers
// 503 with Retry-After and a readable message, counted and logged as a
// warning, never 500; readiness says so; and within seconds of the
// database's return the same calls succeed again.
func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	own, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	e := newEnv(t, func(c *config.Config) { c.DatabaseURL = own.NewDatabase(t) })
	p := e.createProject(e.admin, "Outage")

	own.Shutdown()
	for _, r := range []*response{
		e.do("GET", "/api/projects", e.admin, nil),
		e.do("GET", "/api/projects/"+p+"/documents", e.admin, nil),
		e.do("POST", "/api/projects", e.admin, map[string]string{"name": "During the outage"}),
		e.do("POST", "/api/auth/login", "", map[string]string{"email": adminEmail, "password": newAdminPass}),
	} {
		r.want(503)
		if r.header.Get("Retry-After") == "" || !strings.Contains(r.detail(), "temporarily unavailable") {
			t.Fatalf("503 without Retry-After or a readable message: %v %s", r.header, r.body)
		}
	}
	e.do("GET", "/readyz", "", nil).want(503)
	if m := e.metrics(); !strings.Contains(m, "cl_database_unavailable_total 4") {
		t.Errorf("outage requests not counted:\n%s", grepLines(m, "cl_database_unavailable"))
	}
	if logs := e.logs.String(); strings.Contains(logs, `"msg":"request failed"`) || !strings.Contains(logs, `"msg":"database unavailable"`) {
		t.Errorf("the outage is not logged as a warning:\n%s", logs)
	}

	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.do("GET", "/api/projects", e.admin, nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d 30 s after the database returned: %s", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.do("POST", "/api/projects", e.admin, map[string]string{"name": "After the outage"}).want(201)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
