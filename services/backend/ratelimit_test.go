package backend_test

import (
	"testing"

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
