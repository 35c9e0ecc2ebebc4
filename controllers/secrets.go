/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Generated Secrets. Each is created once with crypto/rand and never
// overwritten: the operator only creates a missing one. Without
// spec.deletionPolicy.deleteSecrets they carry no owner reference, so they
// survive deletion of the ContractLucidity (a re-created instance with the
// same name finds the PostgreSQL passwords its data directory was initialised with).
const (
	SecretKeyJWT           = "jwt-secret-key"     // <name>-jwt: 64 random bytes, hex
	SecretKeyEncryption    = "encryption-key"     // <name>-encryption: 32 random bytes, hex
	SecretKeyAdminPassword = "password"           // <name>-admin: initial admin password
	SecretKeyPGUser        = "username"           // <name>-postgres: application role
	SecretKeyPGPassword    = "password"           // <name>-postgres: application role password
	SecretKeyPGSuperuser   = "superuser-password" // <name>-postgres: postgres superuser password
	SecretKeyRedisPassword = "password"           // <name>-redis

	// Keys a rotation adds (rotation.go): the other value, accepted but not
	// used to sign, encrypt or connect first; the new value while it is
	// staged, the old one once the new one is promoted.
	SecretKeyFallbackPassword   = "fallback-password"        // <name>-postgres (POSTGRES_PASSWORD_FALLBACK), <name>-redis
	SecretKeyJWTPrevious        = "jwt-previous-secret-keys" // <name>-jwt (JWT_PREVIOUS_SECRET_KEYS)
	SecretKeyEncryptionPrevious = "encryption-previous-keys" // <name>-encryption (ENCRYPTION_PREVIOUS_KEYS)
	// SecretKeyRotationPhase records in the Secret, with the values it
	// describes, which rotation phase they belong to.
	SecretKeyRotationPhase = "rotation-phase"

	// PostgresAppUser and PostgresAppDB are the managed database's application role and database.
	PostgresAppUser = "contract_lucidity"
	PostgresAppDB   = "contract_lucidity"
)

// External Secret keys (spec.database.external / spec.redis.external).
const (
	ExternalDBHost     = "host"
	ExternalDBPort     = "port"
	ExternalDBUser     = "user"
	ExternalDBPassword = "password"
	ExternalDBName     = "dbname"
	ExternalDBSSLMode  = "sslmode"
	ExternalRedisURL   = "url"
	ExternalRedisPass  = "password"
)

// SecretKey names one key of one Secret.
type SecretKey struct{ Name, Key string }

// GeneratedSecret describes a Secret the operator generates.
type GeneratedSecret struct {
	Kind      clv1.SecretKind
	Name      string
	Component string
	// Keys in creation order, each with its generator.
	Keys []GeneratedKey
}

// GeneratedKey is one key of a generated Secret.
type GeneratedKey struct {
	Key      string
	Generate func(io.Reader) (string, error)
}

// GeneratedSecrets lists the Secrets cl needs generated (a user-provided
// reference replaces the generated Secret).
func GeneratedSecrets(cl *clv1.ContractLucidity) []GeneratedSecret {
	var out []GeneratedSecret
	if cl.Spec.Auth.JWTSecretRef == nil {
		out = append(out, GeneratedSecret{Kind: clv1.SecretKindJWT, Name: Name(cl, "jwt"), Component: ComponentBackend,
			Keys: []GeneratedKey{{SecretKeyJWT, randomHex(64)}}})
	}
	if cl.Spec.Auth.EncryptionKeySecretRef == nil {
		out = append(out, GeneratedSecret{Kind: clv1.SecretKindEncryption, Name: Name(cl, "encryption"), Component: ComponentBackend,
			Keys: []GeneratedKey{{SecretKeyEncryption, randomHex(32)}}})
	}
	out = append(out, GeneratedSecret{Kind: clv1.SecretKindAdmin, Name: Name(cl, "admin"), Component: ComponentBackend,
		Keys: []GeneratedKey{{SecretKeyAdminPassword, randomAlnum(24)}}})
	if cl.Spec.Database.Managed != nil {
		out = append(out, GeneratedSecret{Kind: clv1.SecretKindDatabase, Name: Name(cl, "postgres"), Component: ComponentPostgres,
			Keys: []GeneratedKey{
				{SecretKeyPGUser, constant(PostgresAppUser)},
				{SecretKeyPGPassword, randomAlnum(40)},
				{SecretKeyPGSuperuser, randomAlnum(40)},
			}})
	}
	if cl.Spec.Redis.Managed != nil {
		out = append(out, GeneratedSecret{Kind: clv1.SecretKindRedis, Name: Name(cl, "redis"), Component: ComponentRedis,
			Keys: []GeneratedKey{{SecretKeyRedisPassword, randomAlnum(40)}}})
	}
	return out
}

// BuildGeneratedSecret builds the Secret g with values from rnd (crypto/rand
// in the operator, a fixed stream in golden tests).
func BuildGeneratedSecret(cl *clv1.ContractLucidity, g GeneratedSecret, rnd io.Reader) (*corev1.Secret, error) {
	s := &corev1.Secret{
		TypeMeta:   typeMeta("v1", "Secret"),
		ObjectMeta: objectMeta(cl, g.Name, g.Component, cl.Spec.DeletionPolicy.DeleteSecrets),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{},
	}
	for _, k := range g.Keys {
		v, err := k.Generate(rnd)
		if err != nil {
			return nil, fmt.Errorf("generate %s/%s: %w", g.Name, k.Key, err)
		}
		s.Data[k.Key] = []byte(v)
	}
	return s, nil
}

// Secret references consumed by the pods.

func jwtKey(cl *clv1.ContractLucidity) SecretKey {
	if r := cl.Spec.Auth.JWTSecretRef; r != nil {
		return SecretKey{r.Name, keyOr(r.Key, SecretKeyJWT)}
	}
	return SecretKey{Name(cl, "jwt"), SecretKeyJWT}
}

func encryptionKey(cl *clv1.ContractLucidity) SecretKey {
	if r := cl.Spec.Auth.EncryptionKeySecretRef; r != nil {
		return SecretKey{r.Name, keyOr(r.Key, SecretKeyEncryption)}
	}
	return SecretKey{Name(cl, "encryption"), SecretKeyEncryption}
}

func adminPasswordKey(cl *clv1.ContractLucidity) SecretKey {
	return SecretKey{Name(cl, "admin"), SecretKeyAdminPassword}
}

// UserSecretKeys lists the keys of user-provided Secrets the instance needs;
// a missing one makes the instance Degraded.
func UserSecretKeys(cl *clv1.ContractLucidity) []SecretKey {
	var out []SecretKey
	if cl.Spec.Auth.JWTSecretRef != nil {
		out = append(out, jwtKey(cl))
	}
	if cl.Spec.Auth.EncryptionKeySecretRef != nil {
		out = append(out, encryptionKey(cl))
	}
	if e := cl.Spec.Database.External; e != nil {
		for _, k := range []string{ExternalDBHost, ExternalDBUser, ExternalDBPassword, ExternalDBName} {
			out = append(out, SecretKey{e.SecretRef.Name, k})
		}
	}
	if e := cl.Spec.Redis.External; e != nil {
		out = append(out, SecretKey{e.SecretRef.Name, ExternalRedisURL})
	}
	return out
}

func keyOr(k, def string) string {
	if k == "" {
		return def
	}
	return k
}

func secretEnv(name string, k SecretKey, optional bool) corev1.EnvVar {
	sel := &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: k.Name}, Key: k.Key}
	if optional {
		sel.Optional = &optional
	}
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: sel}}
}

func constant(v string) func(io.Reader) (string, error) {
	return func(io.Reader) (string, error) { return v, nil }
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) func(io.Reader) (string, error) {
	return func(r io.Reader) (string, error) {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n uniformly random letters and digits (rejection
// sampling, so no modulo bias); 40 characters carry about 238 bits.
func randomAlnum(n int) func(io.Reader) (string, error) {
	return func(r io.Reader) (string, error) {
		out := make([]byte, 0, n)
		buf := make([]byte, 64)
		for len(out) < n {
			if _, err := io.ReadFull(r, buf); err != nil {
				return "", err
			}
			for _, c := range buf {
				if c >= 248 { // 248 = 4*62: keep the distribution uniform
					continue
				}
				out = append(out, alnum[int(c)%len(alnum)])
				if len(out) == n {
					break
				}
			}
		}
		return string(out), nil
	}
}

// checkUserSecret checks the value of a user-provided key the services
// would refuse at startup; it returns a message saying what to fix, or "".
func checkUserSecret(cl *clv1.ContractLucidity, k SecretKey, v []byte) string {
	switch {
	case cl.Spec.Auth.JWTSecretRef != nil && k == jwtKey(cl) && len(v) < 32:
		return fmt.Sprintf("Secret %q key %q must hold at least 32 characters for JWT_SECRET_KEY (e.g. openssl rand -hex 64)", k.Name, k.Key)
	case cl.Spec.Auth.EncryptionKeySecretRef != nil && k == encryptionKey(cl) && !validEncryptionKey(string(v)):
		return fmt.Sprintf("Secret %q key %q must be 32 bytes as 64 hex characters or base64 for ENCRYPTION_KEY (e.g. openssl rand -hex 32)", k.Name, k.Key)
	}
	return ""
}

// validEncryptionKey mirrors the services' ENCRYPTION_KEY parser.
func validEncryptionKey(s string) bool {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return true
		}
	}
	return false
}
