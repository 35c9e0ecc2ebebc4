/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// KnownDefaultSecrets are secret values found in sample files and
// tutorials, compared case-insensitively. The same list as the services'
// (services/internal/config, whose test keeps the two equal): a production
// service refuses them at start-up, the operator says so before.
var KnownDefaultSecrets = []string{
	"contract-lucidity-development-jwt-secret-do-not-use",
	"6465762d6f6e6c792d636f6e74726163742d6c756369646974792d6b65792121",
	"changeme", "change-me", "change_me", "changeit", "secret", "password", "passw0rd",
	"admin", "postgres", "redis", "default", "example", "test", "12345678", "123456789",
	"your-secret-key", "your_secret_key", "your-secret-key-here", "supersecret", "super-secret",
	"changethis", "please-change-me", "jwt-secret", "secret-key", "secretkey", "mysecret",
	"0000000000000000000000000000000000000000000000000000000000000000",
}

func knownDefaultSecret(v string) bool {
	v = strings.TrimSpace(v)
	return slices.ContainsFunc(KnownDefaultSecrets, func(d string) bool { return strings.EqualFold(v, d) })
}

// weakUserSecrets says which values of a referenced Secret are too weak
// for production: the key the instance reads (k) and, for an external
// Redis, its password key and the password in its URL. The length rules
// the services would refuse outright (JWT_SECRET_KEY, ENCRYPTION_KEY) are
// checkUserSecret's. Messages name the Secret and key, never the value.
func weakUserSecrets(cl *clv1.ContractLucidity, k SecretKey, sec *corev1.Secret) []string {
	var out []string
	check := func(key, what string, v string, password bool) {
		switch {
		case knownDefaultSecret(v):
			out = append(out, fmt.Sprintf("Secret %q key %q: the %s is a well-known default value; generate a random one", k.Name, key, what))
		case password && len(v) < minPasswordLength:
			out = append(out, fmt.Sprintf("Secret %q key %q: the %s is shorter than %d characters", k.Name, key, what, minPasswordLength))
		}
	}
	v := string(sec.Data[k.Key])
	switch {
	case cl.Spec.Auth.JWTSecretRef != nil && k == jwtKey(cl),
		cl.Spec.Auth.EncryptionKeySecretRef != nil && k == encryptionKey(cl):
		check(k.Key, "key", v, false)
	case cl.Spec.Database != nil && cl.Spec.Database.External != nil && k == (SecretKey{cl.Spec.Database.External.SecretRef.Name, ExternalDBPassword}):
		check(k.Key, "database password", v, true)
	case cl.Spec.Redis != nil && cl.Spec.Redis.External != nil && k == (SecretKey{cl.Spec.Redis.External.SecretRef.Name, ExternalRedisURL}):
		if pw := string(sec.Data[ExternalRedisPass]); pw != "" {
			check(ExternalRedisPass, "Redis password", pw, true)
		} else if u, err := url.Parse(v); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				check(k.Key, "Redis password in the URL", pw, true)
			}
		}
	}
	return out
}

// minPasswordLength is the services' minimum for POSTGRES_PASSWORD and
// REDIS_PASSWORD in production.
const minPasswordLength = 8

// securityFindings runs the checks that apply to the defaulted spec, with
// the conditions of this reconcile (TLSReady) and the weak referenced
// Secrets found on the way. fails are what production must not run with;
// warns are advice.
func securityFindings(cl *clv1.ContractLucidity, conds []metav1.Condition, weakSecrets []string) (fails, warns []string) {
	s := cl.Spec
	if s.Ingress.Enabled && s.Ingress.TLS != nil {
		if c := meta.FindStatusCondition(conds, clv1.ConditionTLSReady); c == nil || c.Status != metav1.ConditionTrue {
			msg := "not verified yet"
			if c != nil {
				msg = c.Message
			}
			fails = append(fails, "TLS: "+msg)
		}
	} else {
		fails = append(fails, "TLS: the Ingress does not serve TLS (spec.ingress.tls)")
	}
	for _, o := range s.CORS.Origins {
		if !strings.HasPrefix(o, "https://") || strings.Contains(o, "*") {
			fails = append(fails, fmt.Sprintf("CORS: origin %q is not an exact https:// origin", o))
		}
	}
	if !networkPolicyEnabled(cl) {
		fails = append(fails, "NetworkPolicies: off (spec.networkPolicy.enabled: false): every pod accepts and opens any connection")
	}
	fails = append(fails, weakSecrets...)
	var unpinned []string
	for _, img := range instanceImages(cl) {
		if !strings.Contains(img, "@sha256:") {
			unpinned = append(unpinned, img)
		}
	}
	if len(unpinned) > 0 {
		warns = append(warns, fmt.Sprintf("images not pinned by digest (a tag can be moved): %s", strings.Join(unpinned, ", ")))
	}
	return fails, warns
}

// instanceImages are the images the instance runs, without duplicates.
func instanceImages(cl *clv1.ContractLucidity) []string {
	imgs := []string{
		AppImage(cl, ComponentFrontend, cl.Spec.Version),
		AppImage(cl, ComponentBackend, cl.Spec.Version),
		AppImage(cl, ComponentWorker, cl.Spec.Version),
	}
	if db := cl.Spec.Database; db != nil && db.Managed != nil {
		imgs = append(imgs, db.Managed.Image)
	}
	if db := cl.Spec.Database; db != nil && db.CloudNativePG != nil {
		imgs = append(imgs, cmpOr(db.CloudNativePG.ImageName, DefaultCloudNativePGImage))
	}
	if r := cl.Spec.Redis; r != nil && r.Managed != nil {
		imgs = append(imgs, r.Managed.Image)
	}
	slices.Sort(imgs)
	return slices.Compact(slices.DeleteFunc(imgs, func(s string) bool { return s == "" }))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// securityCondition sets SecurityValidated once every step ran (so
// TLSReady is this reconcile's); until then it stays as it was.
func (s *state) securityCondition(completed bool) {
	if !completed {
		if meta.FindStatusCondition(s.status.Conditions, clv1.ConditionSecurityValidated) == nil {
			meta.SetStatusCondition(&s.status.Conditions, metav1.Condition{Type: clv1.ConditionSecurityValidated,
				Status: metav1.ConditionUnknown, Reason: clv1.ReasonSecurityNotEvaluated,
				Message: "evaluated once every reconcile step has run", ObservedGeneration: s.cl.Generation})
		}
		return
	}
	fails, warns := securityFindings(s.d, s.status.Conditions, s.weakSecrets)
	if s.d.Spec.Environment != "production" {
		msg := "development: the production checks are not enforced"
		if all := append(fails, warns...); len(all) > 0 {
			msg += "; production would report: " + strings.Join(all, "; ")
		}
		s.condition(clv1.ConditionSecurityValidated, true, clv1.ReasonSecurityDevelopment, msg)
		return
	}
	switch {
	case len(fails) > 0:
		msg := fmt.Sprintf("%d failed: %s", len(fails), strings.Join(fails, "; "))
		if len(warns) > 0 {
			msg += "; warnings: " + strings.Join(warns, "; ")
		}
		s.condition(clv1.ConditionSecurityValidated, false, clv1.ReasonSecurityFailed, msg)
	case len(warns) > 0:
		s.condition(clv1.ConditionSecurityValidated, true, clv1.ReasonSecurityWarnings,
			"TLS, CORS, NetworkPolicies and referenced Secrets pass; warnings: "+strings.Join(warns, "; "))
	default:
		s.condition(clv1.ConditionSecurityValidated, true, clv1.ReasonSecurityPassed,
			"TLS, CORS, NetworkPolicies, referenced Secrets and image digests pass")
	}
}
