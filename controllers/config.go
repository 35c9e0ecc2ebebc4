/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// StoragePath is where the storage PVC is mounted in backend and worker.
const StoragePath = "/data/storage"

// BaseURL is the instance's public URL (https with TLS, http without), or
// "" without a host.
func BaseURL(cl *clv1.ContractLucidity) string {
	if cl.Spec.Host == "" {
		return ""
	}
	if cl.Spec.Ingress.TLS != nil {
		return "https://" + cl.Spec.Host
	}
	return "http://" + cl.Spec.Host
}

// corsOrigins is spec.cors.origins, or the instance's own origin.
func corsOrigins(cl *clv1.ContractLucidity) string {
	if len(cl.Spec.CORS.Origins) > 0 {
		return strings.Join(cl.Spec.CORS.Origins, ",")
	}
	if u := BaseURL(cl); u != "" {
		return u
	}
	return "http://localhost:3000"
}

// TrustedProxies are the networks whose X-Forwarded-For the services
// believe: the cluster's ranges, where the ingress controller and the
// frontend run, and spec.ingress.trustedProxies.
func TrustedProxies(cl *clv1.ContractLucidity) []string {
	return summarize(append(slices.Clone(ClusterRanges(cl)), cl.Spec.Ingress.TrustedProxies...))
}

// ConfigData is the non-secret configuration contract (design.md §5) as
// environment variables.
func ConfigData(cl *clv1.ContractLucidity) map[string]string {
	s := cl.Spec
	d := map[string]string{
		"ENVIRONMENT":                     string(s.Environment),
		"LOG_LEVEL":                       "info",
		"JWT_ALGORITHM":                   "HS256",
		"JWT_ACCESS_TOKEN_EXPIRE_MINUTES": strconv.Itoa(int(s.Auth.AccessTokenTTL.Duration / time.Minute)),
		"JWT_REFRESH_TOKEN_EXPIRE_DAYS":   strconv.Itoa(int(s.Auth.RefreshTokenTTL.Duration / (24 * time.Hour))),
		"CORS_ORIGINS":                    corsOrigins(cl),
		"MAX_UPLOAD_SIZE_MB":              strconv.Itoa(int(s.Uploads.MaxSizeMB)),
		"SUPPORTED_FILE_TYPES":            strings.Join(s.Uploads.FileTypes, ","),
		"STORAGE_PATH":                    StoragePath,
		"RATE_LIMIT_LOGIN_PER_MINUTE":     strconv.Itoa(int(s.RateLimits.LoginPerMinutePerIP)),
		"RATE_LIMIT_UPLOAD_PER_MINUTE":    strconv.Itoa(int(s.RateLimits.UploadsPerMinutePerUser)),
		"RATE_LIMIT_API_PER_MINUTE":       strconv.Itoa(int(s.RateLimits.APIPerMinutePerUser)),
		"BACKEND_ADDR":                    fmt.Sprintf(":%d", PortBackend),
		"BACKEND_METRICS_ADDR":            fmt.Sprintf(":%d", PortBackendMetrics),
		"FRONTEND_ADDR":                   fmt.Sprintf(":%d", PortFrontend),
		"WORKER_METRICS_ADDR":             fmt.Sprintf(":%d", PortWorker),
		"BACKEND_INTERNAL_URL":            fmt.Sprintf("http://%s:%d", Name(cl, ComponentBackend), PortBackend),
		"WORKER_CONCURRENCY":              strconv.Itoa(int(s.Worker.Concurrency)),
		"INITIAL_ADMIN_EMAIL":             s.Auth.InitialAdminEmail,
		"TRUSTED_PROXIES":                 strings.Join(TrustedProxies(cl), ","),
	}
	if u := BaseURL(cl); u != "" {
		d["API_BASE_URL"] = u
	}
	for k, v := range aiEndpointPolicy(cl) {
		d[k] = v
	}
	if s.Database.Managed != nil {
		d["POSTGRES_HOST"] = Name(cl, ComponentPostgres)
		d["POSTGRES_PORT"] = strconv.Itoa(PortPostgres)
		d["POSTGRES_USER"] = PostgresAppUser
		d["POSTGRES_DB"] = PostgresAppDB
		// In-cluster traffic to the managed database, fenced by NetworkPolicy.
		d["POSTGRES_SSLMODE"] = "disable"
	}
	if s.Database.CloudNativePG != nil {
		// The primary, wherever it is after a failover; CloudNativePG
		// serves TLS with its own CA.
		d["POSTGRES_HOST"] = CloudNativePGClusterName(cl) + "-rw"
		d["POSTGRES_PORT"] = strconv.Itoa(PortPostgres)
		d["POSTGRES_SSLMODE"] = "require"
	}
	if s.Backup != nil {
		d["STORAGE_TRASH_RETENTION"] = trashRetention(cl).String()
	}
	if s.Redis.Managed != nil {
		d["REDIS_URL"] = fmt.Sprintf("redis://%s:%d/0", Name(cl, ComponentRedis), PortRedis)
	}
	return d
}

// BuildConfigMap is <name>-config, consumed with envFrom by every application pod.
func BuildConfigMap(cl *clv1.ContractLucidity) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: objectMeta(cl, Name(cl, "config"), ComponentConfig, true),
		Data:       ConfigData(cl),
	}
}

// secretEnvFor is the secret part of a component's environment: generated
// or user-provided Secret references, per the configuration contract.
func secretEnvFor(cl *clv1.ContractLucidity, component string) []corev1.EnvVar {
	var env []corev1.EnvVar
	db := func() {
		if e := cl.Spec.Database.External; e != nil {
			n := e.SecretRef.Name
			env = append(env,
				secretEnv("POSTGRES_HOST", SecretKey{n, ExternalDBHost}, false),
				secretEnv("POSTGRES_PORT", SecretKey{n, ExternalDBPort}, true),
				secretEnv("POSTGRES_USER", SecretKey{n, ExternalDBUser}, false),
				secretEnv("POSTGRES_PASSWORD", SecretKey{n, ExternalDBPassword}, false),
				secretEnv("POSTGRES_DB", SecretKey{n, ExternalDBName}, false),
				secretEnv("POSTGRES_SSLMODE", SecretKey{n, ExternalDBSSLMode}, true),
			)
			return
		}
		if cl.Spec.Database.CloudNativePG != nil {
			n := CloudNativePGAppSecret(cl)
			env = append(env,
				secretEnv("POSTGRES_USER", SecretKey{n, "username"}, false),
				secretEnv("POSTGRES_PASSWORD", SecretKey{n, "password"}, false),
				secretEnv("POSTGRES_DB", SecretKey{n, "dbname"}, false))
			return
		}
		env = append(env, secretEnv("POSTGRES_PASSWORD", SecretKey{Name(cl, "postgres"), SecretKeyPGPassword}, false),
			secretEnv("POSTGRES_PASSWORD_FALLBACK", SecretKey{Name(cl, "postgres"), SecretKeyFallbackPassword}, true))
	}
	// The keys a rotation adds to the generated JWT and encryption
	// Secrets (optional: absent outside a rotation).
	previousKeys := func(name string, k SecretKey, generated bool) {
		if generated {
			env = append(env, secretEnv(name, k, true))
		}
	}
	redis := func() {
		if e := cl.Spec.Redis.External; e != nil {
			env = append(env,
				secretEnv("REDIS_URL", SecretKey{e.SecretRef.Name, ExternalRedisURL}, false),
				secretEnv("REDIS_PASSWORD", SecretKey{e.SecretRef.Name, ExternalRedisPass}, true))
			return
		}
		env = append(env, secretEnv("REDIS_PASSWORD", SecretKey{Name(cl, "redis"), SecretKeyRedisPassword}, false))
	}
	switch component {
	case ComponentBackend:
		db()
		redis()
		env = append(env, secretEnv("JWT_SECRET_KEY", jwtKey(cl), false))
		previousKeys("JWT_PREVIOUS_SECRET_KEYS", SecretKey{Name(cl, "jwt"), SecretKeyJWTPrevious}, cl.Spec.Auth.JWTSecretRef == nil)
		env = append(env, secretEnv("ENCRYPTION_KEY", encryptionKey(cl), false))
		previousKeys("ENCRYPTION_PREVIOUS_KEYS", SecretKey{Name(cl, "encryption"), SecretKeyEncryptionPrevious}, cl.Spec.Auth.EncryptionKeySecretRef == nil)
		env = append(env, secretEnv("INITIAL_ADMIN_PASSWORD", adminPasswordKey(cl), false))
	case ComponentWorker:
		db()
		redis()
		env = append(env, secretEnv("ENCRYPTION_KEY", encryptionKey(cl), false))
		previousKeys("ENCRYPTION_PREVIOUS_KEYS", SecretKey{Name(cl, "encryption"), SecretKeyEncryptionPrevious}, cl.Spec.Auth.EncryptionKeySecretRef == nil)
	case ComponentMigrate:
		db()
	}
	return env
}

// configKeysFor lists the configuration keys a component reads, so that a
// change rolls only the Deployments it affects (every pod gets the whole
// ConfigMap through envFrom; the services ignore what they do not use).
func configKeysFor(component string, all map[string]string) map[string]string {
	frontendOnly := []string{"FRONTEND_ADDR"}
	backendOnly := []string{"JWT_ALGORITHM", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "JWT_REFRESH_TOKEN_EXPIRE_DAYS",
		"CORS_ORIGINS", "RATE_LIMIT_LOGIN_PER_MINUTE", "RATE_LIMIT_UPLOAD_PER_MINUTE", "RATE_LIMIT_API_PER_MINUTE",
		"BACKEND_ADDR", "BACKEND_METRICS_ADDR", "INITIAL_ADMIN_EMAIL", "TRUSTED_PROXIES"}
	workerOnly := []string{"WORKER_CONCURRENCY", "WORKER_METRICS_ADDR", "STORAGE_TRASH_RETENTION"}
	frontend := []string{"ENVIRONMENT", "LOG_LEVEL", "FRONTEND_ADDR", "BACKEND_INTERNAL_URL", "API_BASE_URL", "MAX_UPLOAD_SIZE_MB",
		"TRUSTED_PROXIES"}
	out := map[string]string{}
	for k, v := range all {
		var use bool
		switch component {
		case ComponentFrontend:
			use = slices.Contains(frontend, k)
		case ComponentWorker:
			use = !slices.Contains(backendOnly, k) && !slices.Contains(frontendOnly, k) &&
				k != "BACKEND_INTERNAL_URL" && k != "API_BASE_URL"
		default:
			use = !slices.Contains(workerOnly, k) && !slices.Contains(frontendOnly, k)
		}
		if use {
			out[k] = v
		}
	}
	return out
}

// ConsumedSecretKeys lists the Secret keys a component's pods read, for the config hash.
func ConsumedSecretKeys(cl *clv1.ContractLucidity, component string) []SecretKey {
	var out []SecretKey
	for _, e := range secretEnvFor(cl, component) {
		r := e.ValueFrom.SecretKeyRef
		out = append(out, SecretKey{r.Name, r.Key})
	}
	return out
}

// ConfigHash hashes the configuration and the Secrets a component
// consumes; versions maps "secret/key" to the resourceVersion of the
// Secret ("" when absent). Secret values never enter the hash: it is on the
// pod template, readable by more people than the Secrets, and a digest of a
// weak password can be brute-forced.
func ConfigHash(config map[string]string, versions map[string]string) string {
	var parts []string
	for _, m := range []map[string]string{config, versions} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k, m[k])
		}
		parts = append(parts, "|")
	}
	return hashStrings(parts...)
}

// aiEndpointPolicy tells the services' SSRF guard (which refuses private
// and loopback provider addresses by default) about the in-cluster AI
// endpoints the admin listed in spec.networkPolicy.aiEgress.endpoints, so
// that what the NetworkPolicy opens the application also accepts: listed
// ranges become AI_PRIVATE_ENDPOINT_CIDRS; an endpoint chosen by pod or
// namespace selector has no fixed address, so private addresses are allowed
// (AI_ALLOW_PRIVATE_ENDPOINTS), and the NetworkPolicy, enabled, still
// confines them to the selected pods. Link-local and metadata addresses
// stay refused either way.
func aiEndpointPolicy(cl *clv1.ContractLucidity) map[string]string {
	var cidrs []string
	selector := false
	for _, e := range cl.Spec.NetworkPolicy.AIEgress.Endpoints {
		if e.CIDR != "" {
			cidrs = append(cidrs, e.CIDR)
		}
		if e.NamespaceSelector != nil || e.PodSelector != nil {
			selector = true
		}
	}
	out := map[string]string{}
	if len(cidrs) > 0 {
		out["AI_PRIVATE_ENDPOINT_CIDRS"] = strings.Join(cidrs, ",")
	}
	if selector && networkPolicyEnabled(cl) {
		out["AI_ALLOW_PRIVATE_ENDPOINTS"] = "true"
	}
	return out
}
