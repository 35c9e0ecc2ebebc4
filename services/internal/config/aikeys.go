package config

import "strings"

// testKeyMarkers are the test-mode prefixes of API keys (Stripe's sk_test_
// is the policy's example; AI providers' sandboxes use the same shapes).
var testKeyMarkers = []string{"sk_test_", "sk-test-", "sk-test_", "rk_test_", "pk_test_", "sk-ant-test", "test_key", "test-key", "testkey"}

// placeholderMarkers appear in sample configurations, never in real keys.
var placeholderMarkers = []string{"placeholder", "your-api-key", "your_api_key", "yourapikey", "your-key", "your_key",
	"api-key-here", "api_key_here", "key-here", "insert", "replace", "changeme", "change-me", "dummy", "fake", "example",
	"redacted", "xxxx", "****", "...", "<", ">", "${"}

// TestOrPlaceholderKey reports whether an AI provider API key is a test
// key or a placeholder, and which, for a message; production refuses both
// (the backend with a 422 when an admin enters one, contract-lucidity
// validate env for keys in the environment).
func TestOrPlaceholderKey(key string) (reason string, bad bool) {
	k := strings.ToLower(strings.TrimSpace(key))
	if k == "" {
		return "", false
	}
	for _, m := range testKeyMarkers {
		if strings.HasPrefix(k, m) || strings.Contains(k, m) {
			return "a test key (" + m + ")", true
		}
	}
	for _, m := range placeholderMarkers {
		if strings.Contains(k, m) {
			return "a placeholder (" + m + ")", true
		}
	}
	if isKnownDefault(k) || strings.Trim(k, k[:1]) == "" {
		return "a placeholder", true
	}
	if len(k) < 20 {
		return "too short to be a provider's key", true
	}
	return "", false
}
