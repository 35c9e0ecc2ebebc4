package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func prodEnv() map[string]string {
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

func TestProductionAcceptsSafeConfiguration(t *testing.T) {
	c, err := LoadFrom(Backend, env(prodEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Production() || len(c.EncryptionKey) != 32 || c.AccessTokenTTL != 30*time.Minute || c.BcryptCost != 12 {
		t.Fatalf("unexpected config: %+v", c)
	}
}

func TestProductionRefusesUnsafeValuesNamingTheVariable(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"missing jwt secret", "JWT_SECRET_KEY", "", "JWT_SECRET_KEY is required"},
		{"short jwt secret", "JWT_SECRET_KEY", "short-but-random-Xy7", "JWT_SECRET_KEY is too short"},
		{"default jwt secret", "JWT_SECRET_KEY", "your-secret-key", "JWT_SECRET_KEY is a known default"},
		{"dev jwt secret", "JWT_SECRET_KEY", devJWTSecret, "JWT_SECRET_KEY is a known default"},
		{"missing encryption key", "ENCRYPTION_KEY", "", "ENCRYPTION_KEY is required"},
		{"dev encryption key", "ENCRYPTION_KEY", devEncryptionKey, "ENCRYPTION_KEY is a known default"},
		{"bad encryption key", "ENCRYPTION_KEY", strings.Repeat("z", 40), "ENCRYPTION_KEY must be 32 bytes"},
		{"cors wildcard", "CORS_ORIGINS", "*", "CORS_ORIGINS must list explicit origins"},
		{"http api url", "API_BASE_URL", "http://contracts.example.com", "API_BASE_URL must be https"},
		{"unknown file type", "SUPPORTED_FILE_TYPES", "pdf,exe", "SUPPORTED_FILE_TYPES \"exe\""},
		{"missing database", "DATABASE_URL", "", "DATABASE_URL is required"},
		{"default db password", "DATABASE_URL", "postgres://cl:postgres@db/cl", "POSTGRES_PASSWORD is a known default"},
		{"missing redis", "REDIS_URL", "", "REDIS_URL is required"},
		{"default redis password", "REDIS_PASSWORD", "changeme", "REDIS_PASSWORD is a known default"},
		{"default db fallback password", "POSTGRES_PASSWORD_FALLBACK", "password", "POSTGRES_PASSWORD_FALLBACK is a known default"},
		{"default admin password", "INITIAL_ADMIN_PASSWORD", "changeme", "INITIAL_ADMIN_PASSWORD is a known default"},
		{"other jwt algorithm", "JWT_ALGORITHM", "RS256", "JWT_ALGORITHM only HS256"},
		{"short previous jwt secret", "JWT_PREVIOUS_SECRET_KEYS", "k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2b, short", "JWT_PREVIOUS_SECRET_KEYS (entry 2) is too short"},
		{"bad previous encryption key", "ENCRYPTION_PREVIOUS_KEYS", strings.Repeat("z", 40), "ENCRYPTION_PREVIOUS_KEYS (entry 1) must be 32 bytes"},
		{"default previous encryption key", "ENCRYPTION_PREVIOUS_KEYS", devEncryptionKey, "ENCRYPTION_PREVIOUS_KEYS (entry 1) is a known default"},
		{"private endpoints flag", "AI_ALLOW_PRIVATE_ENDPOINTS", "sometimes", "AI_ALLOW_PRIVATE_ENDPOINTS must be true or false"},
		{"private endpoint CIDR", "AI_PRIVATE_ENDPOINT_CIDRS", "10.0.0.0/8,cluster", "AI_PRIVATE_ENDPOINT_CIDRS \"cluster\" is not a CIDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := prodEnv()
			if tc.value == "" {
				delete(m, tc.key)
			} else {
				m[tc.key] = tc.value
			}
			_, err := LoadFrom(Backend, env(m))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestDevelopmentUsesDefaults(t *testing.T) {
	c, err := LoadFrom(Backend, env(map[string]string{
		"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTSecret != devJWTSecret || len(c.EncryptionKey) != 32 || c.CORSOrigins[0] != "http://localhost:3000" ||
		len(c.SupportedFileTypes) != 6 || c.MaxUploadBytes() != 100<<20 || c.RateLimitLoginPerMinute != 5 ||
		c.WorkerVisibilityTimeout != 5*time.Minute || c.WorkerJobTimeout != time.Hour || c.AuditRetentionDays != 90 || c.StoragePath != "/data/storage" ||
		c.LoginMaxFailures != 10 || c.LoginLockout != 15*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestPostgresVariablesBuildURL(t *testing.T) {
	c, err := LoadFrom(Migrate, env(map[string]string{
		"POSTGRES_HOST": "db.ns.svc", "POSTGRES_PORT": "5433", "POSTGRES_USER": "app",
		"POSTGRES_PASSWORD": "p@ss/word", "POSTGRES_DB": "cl", "POSTGRES_SSLMODE": "require",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := "postgres://app:p%40ss%2Fword@db.ns.svc:5433/cl?sslmode=require"
	if c.DatabaseURL != want {
		t.Fatalf("got %s want %s", c.DatabaseURL, want)
	}
}

func TestInvalidNumbersAreRefused(t *testing.T) {
	_, err := LoadFrom(Backend, env(map[string]string{
		"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0", "BCRYPT_COST": "abc",
	}))
	if err == nil || !strings.Contains(err.Error(), "BCRYPT_COST") {
		t.Fatalf("got %v", err)
	}
}

func TestParseKeyAcceptsHexAndBase64(t *testing.T) {
	hexKey := "5f2b9c7e1a3d4f6081726354a9b8c7d6e5f4031201fedcba9876543210abcdef"
	a, err := ParseKey(hexKey)
	if err != nil || len(a) != 32 {
		t.Fatal(err)
	}
	b, err := ParseKey("Xyucfho9T2CBcmNUqbjH1uX0AxIB/ty6mHZUMhCrze8=")
	if err != nil || string(a) != string(b) {
		t.Fatalf("base64 key differs: %v", err)
	}
	if _, err := ParseKey("dG9vc2hvcnQ="); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestRedisPasswordOverridesURL(t *testing.T) {
	c := &Config{RedisURL: "redis://:urlpw@redis:6379/2", RedisPassword: "envpw"}
	opt, err := c.RedisOptions()
	if err != nil || opt.Password != "envpw" || opt.Addr != "redis:6379" || opt.DB != 2 {
		t.Fatalf("got %+v %v", opt, err)
	}
	c.RedisPassword = ""
	if opt, _ := c.RedisOptions(); opt.Password != "urlpw" {
		t.Fatalf("url password lost: %q", opt.Password)
	}
}

// By default only loopback is a trusted proxy: a client anywhere on a
// private network must not choose its own address through X-Forwarded-For.
func TestTrustedProxiesDefaultToLoopbackOnly(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0"}
	c, err := LoadFrom(Backend, env(base))
	if err != nil {
		t.Fatal(err)
	}
	trusted := func(a string) bool {
		for _, p := range c.TrustedProxies {
			if p.Contains(netip.MustParseAddr(a)) {
				return true
			}
		}
		return false
	}
	if !trusted("127.0.0.1") || !trusted("::1") {
		t.Fatalf("loopback not trusted by default: %v", c.TrustedProxies)
	}
	for _, a := range []string{"10.0.0.7", "172.16.5.5", "192.168.1.20", "fd00::1", "203.0.113.9"} {
		if trusted(a) {
			t.Errorf("%s trusted by default: %v", a, c.TrustedProxies)
		}
	}
	base["TRUSTED_PROXIES"] = "10.1.0.0/16"
	if c, err = LoadFrom(Backend, env(base)); err != nil || !trusted("10.1.2.3") || trusted("127.0.0.1") {
		t.Fatalf("explicit trusted proxies: %v %v", c.TrustedProxies, err)
	}
	base["TRUSTED_PROXIES"] = "10.1.0.0/16, not-a-cidr"
	if _, err := LoadFrom(Backend, env(base)); err == nil || !strings.Contains(err.Error(), "TRUSTED_PROXIES") {
		t.Fatalf("bad CIDR accepted: %v", err)
	}
}

func TestKeyRingsAndEgressPolicy(t *testing.T) {
	m := prodEnv()
	m["JWT_PREVIOUS_SECRET_KEYS"] = " Old1-k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a/ , Old2-k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a+= "
	m["ENCRYPTION_PREVIOUS_KEYS"] = "Xyucfho9T2CBcmNUqbjH1uX0AxIB/ty6mHZUMhCrze8="
	m["AI_PRIVATE_ENDPOINT_CIDRS"] = "10.96.0.5/16"
	c, err := LoadFrom(Backend, env(m))
	if err != nil {
		t.Fatal(err)
	}
	// Keys are kept byte for byte (a trailing slash is part of a base64 key).
	if len(c.JWTPreviousSecrets) != 2 || c.JWTPreviousSecrets[0] != "Old1-k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a/" ||
		c.JWTPreviousSecrets[1] != "Old2-k8J2nQ5vX9mZ3pL7wR4tY6uB1cE0hF2a+=" {
		t.Fatalf("previous JWT keys %q", c.JWTPreviousSecrets)
	}
	if len(c.EncryptionPreviousKeys) != 1 || len(c.EncryptionPreviousKeys[0]) != 32 {
		t.Fatalf("previous encryption keys %v", c.EncryptionPreviousKeys)
	}
	p := c.EgressPolicy()
	if p.AllowPrivate || p.Check(netip.MustParseAddr("10.96.200.1")) != nil || p.Check(netip.MustParseAddr("10.97.0.1")) == nil {
		t.Fatalf("egress policy %+v", p)
	}
	// The worker and the reencrypt command read the same keys.
	for _, svc := range []Service{Worker, Reencrypt} {
		if c, err := LoadFrom(svc, env(m)); err != nil || len(c.EncryptionPreviousKeys) != 1 {
			t.Fatalf("%s: %v", svc, err)
		}
	}
}

// TestEveryServiceRequiresHTTPSAPIBaseURLInProduction: the backend, the
// worker and the frontend refuse production without API_BASE_URL or with an
// http one, naming the variable; development defaults it.
func TestEveryServiceRequiresHTTPSAPIBaseURLInProduction(t *testing.T) {
	for _, svc := range []Service{Backend, Worker, Frontend} {
		t.Run(string(svc), func(t *testing.T) {
			m := prodEnv()
			delete(m, "API_BASE_URL")
			if _, err := LoadFrom(svc, env(m)); err == nil || !strings.Contains(err.Error(), "API_BASE_URL is required in production") {
				t.Fatalf("missing: got %v", err)
			}
			m["API_BASE_URL"] = "http://contracts.example.com"
			if _, err := LoadFrom(svc, env(m)); err == nil || !strings.Contains(err.Error(), "API_BASE_URL must be https") {
				t.Fatalf("http: got %v", err)
			}
			m["API_BASE_URL"] = "https://contracts.example.com/"
			c, err := LoadFrom(svc, env(m))
			if err != nil {
				t.Fatal(err)
			}
			if c.APIBaseURL != "https://contracts.example.com" {
				t.Fatalf("APIBaseURL %q", c.APIBaseURL)
			}
			d, err := LoadFrom(svc, env(map[string]string{"DATABASE_URL": "postgres://localhost/cl", "REDIS_URL": "redis://localhost:6379/0"}))
			if err != nil || d.APIBaseURL != DefaultAPIBaseURL {
				t.Fatalf("development default: %v %v", d, err)
			}
		})
	}
	// migrate is a Job that never serves or calls the API.
	m := prodEnv()
	delete(m, "API_BASE_URL")
	if _, err := LoadFrom(Migrate, env(m)); err != nil {
		t.Fatal(err)
	}
}

func TestCheckAPIBaseURL(t *testing.T) {
	for _, tc := range []struct {
		prod      bool
		in, want  string
		wantError string
	}{
		{false, "", DefaultAPIBaseURL, ""},
		{false, "http://10.0.0.5:8000/", "http://10.0.0.5:8000", ""},
		{true, "https://cl.example.com", "https://cl.example.com", ""},
		{true, "", "", "API_BASE_URL is required in production"},
		{true, "http://cl.example.com", "", "API_BASE_URL must be https in production"},
		{false, "cl.example.com", "", "not an absolute http(s) URL"},
		{false, "ftp://cl.example.com", "", "not an absolute http(s) URL"},
	} {
		got, err := CheckAPIBaseURL(tc.prod, tc.in)
		if tc.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Errorf("%v %q: got %q, %v; want error %q", tc.prod, tc.in, got, err, tc.wantError)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v %q: got %q, %v; want %q", tc.prod, tc.in, got, err, tc.want)
		}
	}
}

func TestTestOrPlaceholderKey(t *testing.T) {
	for _, k := range []string{"sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk-test-abcdefghijklmnopqrstuvwx", "sk-ant-test-0123456789abcdefghij",
		"your-api-key-here", "sk-xxxxxxxxxxxxxxxxxxxxxxxx", "<OPENAI_API_KEY>", "${OPENAI_API_KEY}", "changeme", "sk-...",
		"0000000000000000000000000000", "dummy-key-for-local-dev-000000", "short-key"} {
		if reason, bad := TestOrPlaceholderKey(k); !bad {
			t.Errorf("%q accepted", k)
		} else if reason == "" {
			t.Errorf("%q: no reason", k)
		}
	}
	for _, k := range []string{"", "sk-proj-Q8vT2mK9xR4wL7nB3cF6hJ1pZ5sD0gY8aE2uI4oW", "sk-ant-api03-7hG2kL9mN4pQ8rS1tV5wX3yZ6aB0cD2eF4gH"} {
		if reason, bad := TestOrPlaceholderKey(k); bad {
			t.Errorf("%q refused: %s", k, reason)
		}
	}
}

func TestDatabasePasswordFallbackIsRead(t *testing.T) {
	m := prodEnv()
	m["POSTGRES_PASSWORD_FALLBACK"] = "Zt5kW8qR2mXn"
	c, err := LoadFrom(Worker, env(m))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabasePasswordFallback != "Zt5kW8qR2mXn" {
		t.Errorf("DatabasePasswordFallback = %q", c.DatabasePasswordFallback)
	}
}
