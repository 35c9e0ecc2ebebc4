package validate

import (
	"strings"
	"testing"
)

func prodEnviron() map[string]string {
	return map[string]string{
		"ENVIRONMENT":    "production",
		"DATABASE_URL":   "postgres://cl:Xk3vP9qLm2Wz@db:5432/cl?sslmode=require",
		"REDIS_URL":      "redis://redis:6379/0",
		"REDIS_PASSWORD": "Rq8mN2xV5tYb",
		"JWT_SECRET_KEY": "k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a",
		"ENCRYPTION_KEY": "5f2b9c7e1a3d4f6081726354a9b8c7d6e5f4031201fedcba9876543210abcdef",
		"CORS_ORIGINS":   "https://contracts.example.com",
		"API_BASE_URL":   "https://contracts.example.com",
	}
}

func runEnv(m map[string]string) Report {
	var environ []string
	for k, v := range m {
		environ = append(environ, k+"="+v)
	}
	return Env(func(k string) (string, bool) { v, ok := m[k]; return v, ok }, environ)
}

func TestEnvPassesASafeProductionEnvironment(t *testing.T) {
	r := runEnv(prodEnviron())
	if r.Failed() || r.Count(Warn) != 0 {
		t.Fatalf("%+v", r)
	}
}

// TestEnvFailsEachUnsafeSetting: each broken setting is one FAIL line that
// names the variable, from the services' own rules or validate's.
func TestEnvFailsEachUnsafeSetting(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"API_BASE_URL", "http://contracts.example.com", "API_BASE_URL must be https"},
		{"API_BASE_URL", "", "API_BASE_URL is required in production"},
		{"CORS_ORIGINS", "*", "CORS_ORIGINS must list explicit origins"},
		{"CORS_ORIGINS", "http://contracts.example.com", `"http://contracts.example.com" is http`},
		{"JWT_SECRET_KEY", "changeme", "JWT_SECRET_KEY is a known default"},
		{"JWT_SECRET_KEY", "short-Xy7", "JWT_SECRET_KEY is too short"},
		{"ENCRYPTION_KEY", "", "ENCRYPTION_KEY is required"},
		{"REDIS_PASSWORD", "redis", "REDIS_PASSWORD is a known default"},
		{"OPENAI_API_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "a test key"},
		{"ANTHROPIC_API_KEY", "your-api-key-here", "a placeholder"},
	} {
		m := prodEnviron()
		if tc.value == "" {
			delete(m, tc.key)
		} else {
			m[tc.key] = tc.value
		}
		r := runEnv(m)
		var fails []Result
		for _, x := range r {
			if x.Status == Fail {
				fails = append(fails, x)
			}
		}
		if len(fails) != 1 || fails[0].Check != tc.key || !strings.Contains(fails[0].Detail, tc.want) {
			t.Errorf("%s=%q: %+v", tc.key, tc.value, fails)
		}
	}
}

func TestEnvWarnsInDevelopment(t *testing.T) {
	m := prodEnviron()
	m["ENVIRONMENT"] = "development"
	m["OPENAI_API_KEY"] = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
	r := runEnv(m)
	if r.Failed() || r.Count(Warn) != 2 {
		t.Fatalf("%+v", r)
	}
}
