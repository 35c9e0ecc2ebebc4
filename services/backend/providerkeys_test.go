package backend_test

import (
	"strings"
	"testing"

	"github.com/contract-lucidity/contract-lucidity/services/internal/config"
)

// TestProductionRefusesTestAndPlaceholderAIKeys: an admin entering a test
// or placeholder key in production gets a 422 that says so, on create and
// on update; development accepts it (local experiments), and a real-looking
// key passes in production.
func TestProductionRefusesTestAndPlaceholderAIKeys(t *testing.T) {
	prod := newEnv(t, func(c *config.Config) { c.Environment = "production" })
	for _, key := range []string{"sk_test_4eC39HqLyjWDarjtT1zdp7dc", "your-api-key-here"} {
		r := prod.do("POST", "/api/admin/ai-providers", prod.admin, map[string]any{"name": "P " + key[:4], "kind": "openai",
			"base_url": "https://api.openai.example", "api_key": key}).want(422)
		if d := r.detail(); !strings.Contains(d, "api_key is a") || !strings.Contains(d, "production needs the provider's real key") || strings.Contains(d, key) {
			t.Fatalf("detail %q", d)
		}
	}
	real := "sk-proj-" + randHex(20)
	id := prod.do("POST", "/api/admin/ai-providers", prod.admin, map[string]any{"name": "Real", "kind": "openai",
		"base_url": "https://api.openai.example", "api_key": real}).want(201).str("id")
	prod.do("PATCH", "/api/admin/ai-providers/"+id, prod.admin, map[string]any{"api_key": "sk-test-" + randHex(12)}).want(422)
	prod.do("PATCH", "/api/admin/ai-providers/"+id, prod.admin, map[string]any{"name": "Renamed"}).want(200)

	dev := newEnv(t)
	dev.do("POST", "/api/admin/ai-providers", dev.admin, map[string]any{"name": "Dev", "kind": "openai",
		"base_url": "https://api.openai.example", "api_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc"}).want(201)
}
