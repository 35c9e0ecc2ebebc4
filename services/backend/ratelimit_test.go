package backend_test

import (
	"testing"
	"time"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// /api/auth/refresh is limited per client address like sign-in.
func TestRefreshIsRateLimitedPerAddress(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.RateLimitRefreshPerMinute = 3 })
	for range 3 {
		e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": "guess-" + randHex(8)},
			"X-Forwarded-For", "198.51.100.20").want(401)
	}
	r := e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": "guess-" + randHex(8)},
		"X-Forwarded-For", "198.51.100.20").want(429)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another address has its own budget.
	s := e.login(adminEmail, newAdminPass)
	e.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": s.Refresh},
		"X-Forwarded-For", "198.51.100.21").want(200)
}

// The per-user API limit is served from leases taken from Redis in
// advance; across two replicas it still admits no more than the budget
// (plus what the rate refills while the test runs), and loses at most a
// lease per replica.
func TestLeasedAPILimitHoldsAcrossReplicas(t *testing.T) {
	const budget = 300 // a lease grows to 3 requests
	a := newEnv(t, func(c *config.Config) { c.RateLimitAPIPerMinute = budget })
	b := a.replica()
	u := a.createUser("busy@example.com")
	// createUser spent some of the admin's budget, none of the user's.
	start := time.Now()
	allowed, refused := 0, 0
	for i := range 2 * budget {
		e := a
		if i%3 == 0 {
			e = b
		}
		switch r := e.do("GET", "/api/projects", u.Access, nil); r.status {
		case 200:
			allowed++
		case 429:
			refused++
			if r.header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("status %d %s", r.status, r.body)
		}
	}
	refill := int(time.Since(start).Seconds()*budget/60) + 1
	if allowed > budget+refill || allowed < budget-2*3 {
		t.Fatalf("%d allowed, %d refused; want about %d (+%d refilled, -%d in leases)", allowed, refused, budget, refill, 2*3)
	}
	t.Logf("%d allowed, %d refused in %s", allowed, refused, time.Since(start).Round(time.Millisecond))
}
