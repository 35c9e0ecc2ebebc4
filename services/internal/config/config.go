// Package config loads the services' configuration from environment
// variables (design.md section 5, api.md). One Config struct serves every
// service; Load validates what the named service needs and, when
// ENVIRONMENT=production, refuses unsafe values with an error naming the
// variable.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/contract-lucidity/contract-lucidity/services/internal/egress"
)

// Service names the program that loads the configuration; it decides which
// variables are required.
type Service string

const (
	Backend  Service = "backend"
	Worker   Service = "worker"
	Frontend Service = "frontend"
	Migrate  Service = "migrate"
	// Reencrypt rewrites stored secrets with the current ENCRYPTION_KEY.
	Reencrypt Service = "reencrypt"
)

// Development defaults for secrets. They let `make demo` and tests run
// without ceremony and are refused in production.
const (
	devJWTSecret     = "contract-lucidity-development-jwt-secret-do-not-use"
	devEncryptionKey = "6465762d6f6e6c792d636f6e74726163742d6c756369646974792d6b65792121" // "dev-only-contract-lucidity-key!!"
)

// FileTypes are the document types the product can process (and the
// default of SUPPORTED_FILE_TYPES); "tif" is accepted as an alias of tiff.
var FileTypes = []string{"pdf", "docx", "png", "jpg", "jpeg", "tiff"}

// knownDefaults are secret values found in sample files and tutorials. A
// production service refuses them (compared case-insensitively).
var knownDefaults = []string{
	devJWTSecret, devEncryptionKey,
	"changeme", "change-me", "change_me", "changeit", "secret", "password", "passw0rd",
	"admin", "postgres", "redis", "default", "example", "test", "12345678", "123456789",
	"your-secret-key", "your_secret_key", "your-secret-key-here", "supersecret", "super-secret",
	"changethis", "please-change-me", "jwt-secret", "secret-key", "secretkey", "mysecret",
	"0000000000000000000000000000000000000000000000000000000000000000",
}

// Config is the whole environment of the services. Durations and sizes are
// parsed; secrets are kept as given (never log a Config).
type Config struct {
	Environment string // development | production

	DatabaseURL string
	// DatabasePasswordFallback (POSTGRES_PASSWORD_FALLBACK) is tried for a
	// new connection when the server refuses the password of DatabaseURL
	// (SQLSTATE 28P01). During a password rotation it is the other of the
	// old and the new password, so connections succeed whichever of them
	// the server has at that moment.
	DatabasePasswordFallback string
	RedisURL                 string // may be empty for services that do not need Redis
	// RedisPassword overrides the password of RedisURL when set.
	RedisPassword string

	// JWTSecret (JWT_SECRET_KEY) signs new access tokens; tokens signed
	// with one of JWTPreviousSecrets (JWT_PREVIOUS_SECRET_KEYS,
	// comma-separated) stay valid until they expire. Rotate by writing a
	// new JWT_SECRET_KEY and moving the old one to the previous list.
	JWTSecret          string
	JWTPreviousSecrets []string
	JWTAlgorithm       string
	AccessTokenTTL     time.Duration
	RefreshTokenTTL    time.Duration
	BcryptCost         int

	EncryptionKey []byte // 32 bytes; seals new values
	// EncryptionPreviousKeys (ENCRYPTION_PREVIOUS_KEYS, comma-separated)
	// still open values sealed before a rotation, until `contract-lucidity
	// reencrypt` has rewritten them with EncryptionKey.
	EncryptionPreviousKeys [][]byte

	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (the frontend's reverse proxy), so rate limits and audit see the
	// client's address. TRUSTED_PROXIES, comma-separated CIDRs; default
	// loopback only (a wider default lets any client on those networks
	// choose its address and escape the per-IP limits).
	TrustedProxies  []netip.Prefix
	MaxUploadSizeMB int
	// SupportedFileTypes (SUPPORTED_FILE_TYPES) seeds system_config and
	// bounds what admins may enable there.
	SupportedFileTypes []string
	StoragePath        string
	// StorageTrashRetention (STORAGE_TRASH_RETENTION, default 24h) is how
	// long files of deleted documents stay in the storage trash, where a
	// backup that started before the delete still finds them.
	StorageTrashRetention time.Duration

	RateLimitLoginPerMinute  int
	RateLimitUploadPerMinute int
	RateLimitAPIPerMinute    int
	// RateLimitRefreshPerMinute (RATE_LIMIT_REFRESH_PER_MINUTE, default
	// 30) bounds token refreshes and sign-outs per client address.
	RateLimitRefreshPerMinute int

	// AI provider endpoints: loopback and private addresses are refused
	// unless AIAllowPrivateEndpoints (AI_ALLOW_PRIVATE_ENDPOINTS=true) or
	// they fall in AIPrivateEndpointCIDRs (AI_PRIVATE_ENDPOINT_CIDRS);
	// link-local and metadata addresses always are.
	AIAllowPrivateEndpoints bool
	AIPrivateEndpointCIDRs  []netip.Prefix

	// LoginMaxFailures (LOGIN_MAX_FAILURES, default 10; 0 turns it off)
	// consecutive failed sign-ins to one account, from any address, lock
	// its sign-in for LoginLockout (LOGIN_LOCKOUT, default 15m) after the
	// last failure.
	LoginMaxFailures int
	LoginLockout     time.Duration

	BackendAddr        string // listen address of the backend (BACKEND_ADDR, default :8000)
	BackendInternalURL string
	APIBaseURL         string
	FrontendAddr       string // FRONTEND_ADDR, default :3000
	BackendMetricsAddr string // BACKEND_METRICS_ADDR, default :9091: the backend's /metrics, never on the API port

	WorkerConcurrency       int
	WorkerVisibilityTimeout time.Duration
	WorkerMetricsAddr       string
	// WorkerJobTimeout (WORKER_JOB_TIMEOUT, default 1h) bounds one run of
	// a job; a document that takes longer is retried, then failed.
	WorkerJobTimeout time.Duration
	// AuditRetentionDays (AUDIT_RETENTION_DAYS, default 90; 0 keeps them
	// forever): the worker deletes older audit events.
	AuditRetentionDays int

	InitialAdminEmail    string
	InitialAdminPassword string

	LogLevel slog.Level
}

// Production reports whether strict checks apply.
func (c *Config) Production() bool { return c.Environment == "production" }

// MaxUploadBytes is the hard upload limit from MAX_UPLOAD_SIZE_MB.
func (c *Config) MaxUploadBytes() int64 { return int64(c.MaxUploadSizeMB) << 20 }

// Load reads the process environment for svc.
func Load(svc Service) (*Config, error) { return LoadFrom(svc, os.LookupEnv) }

// LoadFrom reads the configuration through lookup (os.LookupEnv in
// production, a map in tests).
func LoadFrom(svc Service, lookup func(string) (string, bool)) (*Config, error) {
	l := loader{lookup: lookup}
	c := &Config{}
	c.Environment = strings.ToLower(l.str("ENVIRONMENT", "development"))
	if c.Environment != "development" && c.Environment != "production" {
		l.fail("ENVIRONMENT", "must be development or production, got %q", c.Environment)
	}
	prod := c.Production()

	c.DatabaseURL = l.databaseURL()
	c.DatabasePasswordFallback = l.str("POSTGRES_PASSWORD_FALLBACK", "")
	c.RedisURL = l.str("REDIS_URL", "")
	c.RedisPassword = l.str("REDIS_PASSWORD", "")
	c.JWTSecret = l.str("JWT_SECRET_KEY", "")
	c.JWTPreviousSecrets = splitSecrets(l.str("JWT_PREVIOUS_SECRET_KEYS", ""))
	c.JWTAlgorithm = l.str("JWT_ALGORITHM", "HS256")
	c.AccessTokenTTL = time.Duration(l.integer("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 24*60)) * time.Minute
	c.RefreshTokenTTL = time.Duration(l.integer("JWT_REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 365)) * 24 * time.Hour
	c.BcryptCost = l.integer("BCRYPT_COST", 12, 4, 31)
	rawKey := l.str("ENCRYPTION_KEY", "")
	rawPrevious := splitSecrets(l.str("ENCRYPTION_PREVIOUS_KEYS", ""))
	c.CORSOrigins = splitList(l.str("CORS_ORIGINS", "http://localhost:3000"))
	c.TrustedProxies = l.prefixes("TRUSTED_PROXIES", "127.0.0.0/8,::1/128")
	c.AIAllowPrivateEndpoints = l.boolean("AI_ALLOW_PRIVATE_ENDPOINTS", false)
	c.AIPrivateEndpointCIDRs = l.prefixes("AI_PRIVATE_ENDPOINT_CIDRS", "")
	c.MaxUploadSizeMB = l.integer("MAX_UPLOAD_SIZE_MB", 100, 1, 10240)
	c.SupportedFileTypes = splitList(strings.ToLower(l.str("SUPPORTED_FILE_TYPES", strings.Join(FileTypes, ","))))
	for _, t := range c.SupportedFileTypes {
		if !slices.Contains(FileTypes, t) && t != "tif" {
			l.fail("SUPPORTED_FILE_TYPES", "%q is not one of %s", t, strings.Join(FileTypes, ", "))
		}
	}
	c.StoragePath = l.str("STORAGE_PATH", "/data/storage")
	c.StorageTrashRetention = l.duration("STORAGE_TRASH_RETENTION", 24*time.Hour)
	c.RateLimitLoginPerMinute = l.integer("RATE_LIMIT_LOGIN_PER_MINUTE", 5, 1, 1_000_000)
	c.RateLimitUploadPerMinute = l.integer("RATE_LIMIT_UPLOAD_PER_MINUTE", 10, 1, 1_000_000)
	c.RateLimitAPIPerMinute = l.integer("RATE_LIMIT_API_PER_MINUTE", 100, 1, 1_000_000)
	c.RateLimitRefreshPerMinute = l.integer("RATE_LIMIT_REFRESH_PER_MINUTE", 30, 1, 1_000_000)
	c.LoginMaxFailures = l.integer("LOGIN_MAX_FAILURES", 10, 0, 1000)
	c.LoginLockout = l.duration("LOGIN_LOCKOUT", 15*time.Minute)
	c.BackendAddr = l.str("BACKEND_ADDR", ":8000")
	c.BackendMetricsAddr = l.str("BACKEND_METRICS_ADDR", ":9091")
	c.BackendInternalURL = l.str("BACKEND_INTERNAL_URL", "http://localhost:8000")
	c.FrontendAddr = l.str("FRONTEND_ADDR", ":3000")
	c.APIBaseURL = l.str("API_BASE_URL", "")
	c.WorkerConcurrency = l.integer("WORKER_CONCURRENCY", 2, 1, 256)
	c.WorkerVisibilityTimeout = l.duration("WORKER_VISIBILITY_TIMEOUT", 5*time.Minute)
	c.WorkerMetricsAddr = l.str("WORKER_METRICS_ADDR", ":9090")
	c.WorkerJobTimeout = l.duration("WORKER_JOB_TIMEOUT", time.Hour)
	c.AuditRetentionDays = l.integer("AUDIT_RETENTION_DAYS", 90, 0, 36500)
	c.InitialAdminEmail = l.str("INITIAL_ADMIN_EMAIL", "")
	c.InitialAdminPassword = l.str("INITIAL_ADMIN_PASSWORD", "")
	c.LogLevel = l.level("LOG_LEVEL")

	if c.JWTAlgorithm != "HS256" {
		l.fail("JWT_ALGORITHM", "only HS256 is supported")
	}
	if _, err := url.Parse(c.BackendInternalURL); err != nil {
		l.fail("BACKEND_INTERNAL_URL", "not a URL")
	}

	needsDB := svc == Backend || svc == Worker || svc == Migrate || svc == Reencrypt
	needsRedis := svc == Backend || svc == Worker
	needsJWT := svc == Backend
	needsKey := svc == Backend || svc == Worker || svc == Reencrypt

	if needsDB && c.DatabaseURL == "" {
		l.fail("DATABASE_URL", "is required (or POSTGRES_HOST/POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB)")
	}
	if needsRedis {
		if c.RedisURL == "" {
			l.fail("REDIS_URL", "is required")
		} else if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			l.fail("REDIS_URL", "must be a redis:// or rediss:// URL")
		} else if prod {
			pw, _ := u.User.Password()
			if c.RedisPassword != "" {
				pw = c.RedisPassword
			}
			l.secret(prod, "REDIS_PASSWORD", pw, 8)
		}
	}
	if needsJWT {
		if c.JWTSecret == "" && !prod {
			c.JWTSecret = devJWTSecret
		}
		l.secret(prod, "JWT_SECRET_KEY", c.JWTSecret, 32)
		for i, k := range c.JWTPreviousSecrets {
			l.secret(prod, fmt.Sprintf("JWT_PREVIOUS_SECRET_KEYS (entry %d)", i+1), k, 32)
		}
	}
	if needsKey {
		if rawKey == "" && !prod {
			rawKey = devEncryptionKey
		}
		l.secret(prod, "ENCRYPTION_KEY", rawKey, 32)
		if rawKey != "" {
			key, err := ParseKey(rawKey)
			if err != nil {
				l.fail("ENCRYPTION_KEY", "%v", err)
			}
			c.EncryptionKey = key
		}
		for i, raw := range rawPrevious {
			name := fmt.Sprintf("ENCRYPTION_PREVIOUS_KEYS (entry %d)", i+1)
			l.secret(prod, name, raw, 32)
			key, err := ParseKey(raw)
			if err != nil {
				l.fail(name, "%v", err)
				continue
			}
			c.EncryptionPreviousKeys = append(c.EncryptionPreviousKeys, key)
		}
	}
	if svc == Backend || svc == Migrate {
		if c.InitialAdminPassword != "" {
			l.secret(prod, "INITIAL_ADMIN_PASSWORD", c.InitialAdminPassword, 12)
		}
		// migrate without the password (the operator's Job) leaves the
		// admin to the backend's first start.
		if svc == Backend && c.InitialAdminEmail != "" && c.InitialAdminPassword == "" {
			l.fail("INITIAL_ADMIN_PASSWORD", "is required when INITIAL_ADMIN_EMAIL is set")
		}
	}
	if svc == Backend {
		for _, o := range c.CORSOrigins {
			if strings.Contains(o, "*") {
				l.fail("CORS_ORIGINS", "must list explicit origins, not %q (a wildcard cannot be combined with credentials)", o)
			} else if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
				l.fail("CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
			}
		}
	}
	if svc == Backend || svc == Worker || svc == Frontend {
		u, err := CheckAPIBaseURL(prod, c.APIBaseURL)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		c.APIBaseURL = u
	}
	if prod && needsDB && c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err == nil {
			pw, _ := u.User.Password()
			l.secret(prod, "POSTGRES_PASSWORD", pw, 8)
		}
		if c.DatabasePasswordFallback != "" {
			l.secret(prod, "POSTGRES_PASSWORD_FALLBACK", c.DatabasePasswordFallback, 8)
		}
	}
	if len(l.errs) > 0 {
		return nil, fmt.Errorf("configuration refused: %w", errors.Join(l.errs...))
	}
	return c, nil
}

// DefaultAPIBaseURL is API_BASE_URL in development when it is not set.
const DefaultAPIBaseURL = "http://localhost:8000"

// CheckAPIBaseURL applies the rules of API_BASE_URL, the public address of
// the API (services, clctl, contract-lucidity validate): required and https
// in production; optional in development, where it defaults to
// DefaultAPIBaseURL. It returns the URL without a trailing slash.
func CheckAPIBaseURL(production bool, raw string) (string, error) {
	raw = strings.TrimRight(strings.TrimSpace(raw), "/")
	if raw == "" {
		if production {
			return "", errors.New("API_BASE_URL is required in production (the public https address, e.g. https://contracts.example.com)")
		}
		return DefaultAPIBaseURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("API_BASE_URL %q is not an absolute http(s) URL", raw)
	}
	if production && u.Scheme != "https" {
		return "", fmt.Errorf("API_BASE_URL must be https in production, got %s://", u.Scheme)
	}
	return raw, nil
}

// ParseKey decodes ENCRYPTION_KEY: 64 hex characters, or base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 bytes as 64 hex characters or base64")
}

type loader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (l *loader) str(name, def string) string {
	if v, ok := l.lookup(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

func (l *loader) integer(name string, def, lo, hi int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, "must be an integer between %d and %d", lo, hi)
		return def
	}
	return n
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		// Plain integers are seconds.
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			l.fail(name, "must be a duration like 5m")
			return def
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 {
		l.fail(name, "must be positive")
		return def
	}
	return d
}

func (l *loader) level(name string) slog.Level {
	var lv slog.Level
	if v := l.str(name, ""); v != "" {
		if err := lv.UnmarshalText([]byte(strings.ToUpper(v))); err != nil {
			l.fail(name, "must be debug, info, warn or error")
		}
	}
	return lv
}

// secret checks a secret value: in production it must be set, at least min
// characters long and not a known default.
func (l *loader) secret(prod bool, name, value string, min int) {
	if !prod {
		return
	}
	switch {
	case value == "":
		l.fail(name, "is required in production")
	case isKnownDefault(value):
		l.fail(name, "is a known default value; generate a random one")
	case len(value) < min:
		l.fail(name, "is too short (at least %d characters in production)", min)
	}
}

func isKnownDefault(v string) bool {
	for _, d := range knownDefaults {
		if strings.EqualFold(v, d) {
			return true
		}
	}
	return false
}

func (l *loader) databaseURL() string {
	if v := l.str("DATABASE_URL", ""); v != "" {
		return v
	}
	host := l.str("POSTGRES_HOST", "")
	if host == "" {
		return ""
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(l.str("POSTGRES_USER", "postgres"), l.str("POSTGRES_PASSWORD", "")),
		Host:   net.JoinHostPort(host, l.str("POSTGRES_PORT", "5432")),
		Path:   "/" + l.str("POSTGRES_DB", "contract_lucidity"),
	}
	q := url.Values{}
	q.Set("sslmode", l.str("POSTGRES_SSLMODE", "prefer"))
	u.RawQuery = q.Encode()
	return u.String()
}

// splitSecrets splits a comma-separated list of keys, keeping each as it
// is apart from surrounding space.
func splitSecrets(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (l *loader) prefixes(name, def string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range splitList(l.str(name, def)) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			l.fail(name, "%q is not a CIDR", p)
			continue
		}
		out = append(out, pfx.Masked())
	}
	return out
}

func (l *loader) boolean(name string, def bool) bool {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, "must be true or false")
		return def
	}
	return b
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.TrimRight(p, "/"))
		}
	}
	return out
}

// EgressPolicy is where AI provider requests may connect.
func (c *Config) EgressPolicy() egress.Policy {
	return egress.Policy{AllowPrivate: c.AIAllowPrivateEndpoints, AllowedCIDRs: c.AIPrivateEndpointCIDRs}
}

// RedisOptions returns client options from REDIS_URL, with REDIS_PASSWORD
// overriding the URL's password when set.
func (c *Config) RedisOptions() (*redis.Options, error) {
	opt, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, errors.New("REDIS_URL is not a valid redis URL")
	}
	if c.RedisPassword != "" {
		opt.Password = c.RedisPassword
	}
	return opt, nil
}
