/*
Copyright 2026 The Contract Lucidity Authors.
Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Minimum strength of user-provided secrets.
const (
	minJWTSecretLen = 32
	minPasswordLen  = 16
	// minS3SecretLen: AWS secret keys have 40 characters, MinIO's at least 8.
	minS3SecretLen    = 16
	minDistinctSymbol = 8
)

// SecurityFinding is one check that did not pass: a failure, or a warning
// (advice that does not make the condition False).
type SecurityFinding struct {
	Check   string // tls, cors, networkPolicies, images, secrets
	Warning bool
	Message string
}

// SecurityInputs is what the checks need beyond the spec, read by the
// reconcile: the TLS state and the values of user-provided Secrets.
type SecurityInputs struct {
	// TLS is the TLSReady condition when the reconcile computed one.
	TLS *metav1.Condition
	// TLSSecretFound: the Ingress' TLS Secret exists (used without TLS).
	TLSSecretFound bool
	// Secrets maps a referenced key to its value; a missing entry is a
	// missing Secret or key.
	Secrets map[SecretKey][]byte
}

// SecurityChecks runs the checks that apply to cl (defaulted). Production
// requires TLS, https CORS origins, NetworkPolicies and strong user
// secrets, and advises images pinned by digest; development only warns.
func SecurityChecks(cl *clv1.ContractLucidity, in SecurityInputs) []SecurityFinding {
	prod := cl.Spec.Environment == clv1.EnvironmentProduction
	var out []SecurityFinding
	add := func(check string, warning bool, format string, args ...any) {
		out = append(out, SecurityFinding{Check: check, Warning: warning, Message: fmt.Sprintf(format, args...)})
	}

	if tls := cl.Spec.Ingress.TLS; cl.Spec.Ingress.Enabled && tls != nil {
		switch {
		case in.TLS != nil && in.TLS.Status != metav1.ConditionTrue:
			add("tls", !prod, "TLS is not ready: %s", in.TLS.Message)
		case in.TLS == nil && !in.TLSSecretFound:
			add("tls", !prod, "the TLS Secret %q does not exist", tls.SecretName)
		}
	} else if prod {
		add("tls", false, "the instance is not served over TLS: set spec.ingress.tls")
	}

	for _, o := range strings.Split(corsOrigins(cl), ",") {
		if !strings.HasPrefix(o, "https://") && !(isLocalOrigin(o) && !prod) {
			add("cors", !prod, "CORS origin %q is not https://", o)
		}
	}

	if o := cl.Spec.Storage.S3; o != nil && strings.HasPrefix(o.Endpoint, "http://") &&
		ParseS3Endpoint(o.Endpoint, cl.Namespace).Kind != S3Service {
		// Production refuses it (CRD); an in-cluster Service stays on the cluster network.
		add("objectStorage", true, "documents go to %s without TLS: use an https:// endpoint", o.Endpoint)
	}

	if e := cl.Spec.NetworkPolicy.Enabled; e != nil && !*e {
		add("networkPolicies", !prod, "spec.networkPolicy.enabled is false: every pod accepts traffic from anywhere in the cluster")
	}

	if prod {
		var unpinned []string
		for _, c := range []string{ComponentFrontend, ComponentBackend, ComponentWorker} {
			if img := AppImage(cl, c, cl.Spec.Version); !strings.Contains(img, "@sha256:") {
				unpinned = append(unpinned, img)
			}
		}
		if m := cl.Spec.Database.Managed; m != nil && !strings.Contains(m.Image, "@sha256:") {
			unpinned = append(unpinned, m.Image)
		}
		if m := cl.Spec.Redis.Managed; m != nil && !strings.Contains(m.Image, "@sha256:") {
			unpinned = append(unpinned, m.Image)
		}
		if len(unpinned) > 0 {
			add("images", true, "images not pinned by digest (a tag can be moved): %s", strings.Join(dedupe(unpinned), ", "))
		}
	}

	for _, ref := range userSecretRefs(cl) {
		v, ok := in.Secrets[ref.key]
		if !ok {
			continue // a missing Secret is reported by the secrets step
		}
		if msg := ref.weak(v); msg != "" {
			add("secrets", !prod, "Secret %s key %s: %s", ref.key.Name, ref.key.Key, msg)
		}
	}
	return out
}

// userSecretRef is a user-provided secret value and its strength rule.
type userSecretRef struct {
	key  SecretKey
	weak func([]byte) string // "" when strong enough
}

func userSecretRefs(cl *clv1.ContractLucidity) []userSecretRef {
	var out []userSecretRef
	if cl.Spec.Auth.JWTSecretRef != nil {
		out = append(out, userSecretRef{jwtKey(cl), func(v []byte) string { return weakSecret(v, minJWTSecretLen) }})
	}
	if cl.Spec.Auth.EncryptionKeySecretRef != nil {
		out = append(out, userSecretRef{encryptionKey(cl), func(v []byte) string {
			if b, err := hex.DecodeString(strings.TrimSpace(string(v))); err != nil || len(b) != 32 {
				return "an encryption key must be 32 bytes written as 64 hex characters"
			}
			return weakSecret(v, 64)
		}})
	}
	if e := cl.Spec.Database.External; e != nil {
		out = append(out, userSecretRef{SecretKey{e.SecretRef.Name, ExternalDBPassword}, func(v []byte) string { return weakSecret(v, minPasswordLen) }})
	}
	if o := cl.Spec.Storage.S3; o != nil {
		out = append(out, userSecretRef{SecretKey{o.Credentials.SecretName, keyOr(o.Credentials.SecretAccessKeyKey, S3SecretAccessKeyKey)}, func(v []byte) string {
			if strings.EqualFold(strings.TrimSpace(string(v)), "minioadmin") {
				return "the object store's well-known default secret key"
			}
			return weakSecret(v, minS3SecretLen)
		}})
	}
	if e := cl.Spec.Redis.External; e != nil {
		out = append(out, userSecretRef{SecretKey{e.SecretRef.Name, ExternalRedisPass}, func(v []byte) string {
			if len(v) == 0 {
				return "no password: anyone who reaches Redis reads the job queue"
			}
			return weakSecret(v, minPasswordLen)
		}})
	}
	return out
}

// weakSecret says why v is too weak: too short, or too few distinct
// symbols to be random ("aaaa...", "12121212...").
func weakSecret(v []byte, minLen int) string {
	s := strings.TrimSpace(string(v))
	if len(s) < minLen {
		return fmt.Sprintf("%d characters, at least %d required", len(s), minLen)
	}
	distinct := map[rune]bool{}
	for _, r := range s {
		distinct[r] = true
	}
	if len(distinct) < minDistinctSymbol {
		return fmt.Sprintf("only %d distinct characters: use a random value (e.g. openssl rand -hex 32)", len(distinct))
	}
	return ""
}

func isLocalOrigin(o string) bool {
	return strings.HasPrefix(o, "http://localhost") || strings.HasPrefix(o, "http://127.0.0.1")
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// reconcileSecurity sets SecurityValidated from SecurityChecks, with a
// Warning event when the findings change.
func (r *ContractLucidityReconciler) reconcileSecurity(ctx context.Context, s *state) error {
	in := SecurityInputs{TLS: meta.FindStatusCondition(s.status.Conditions, clv1.ConditionTLSReady), Secrets: map[SecretKey][]byte{}}
	if tls := s.d.Spec.Ingress.TLS; in.TLS == nil && s.d.Spec.Ingress.Enabled && tls != nil {
		sec := &metav1.PartialObjectMetadata{}
		sec.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: tls.SecretName}, sec)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		in.TLSSecretFound = err == nil
	}
	for _, ref := range userSecretRefs(s.d) {
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: ref.key.Name}, sec)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if v, ok := sec.Data[ref.key.Key]; ok {
			in.Secrets[ref.key] = v
		}
	}

	var failures, warnings []string
	for _, f := range SecurityChecks(s.d, in) {
		line := f.Check + ": " + f.Message
		if f.Warning {
			warnings = append(warnings, line)
		} else {
			failures = append(failures, line)
		}
	}
	ok, reason, msg := true, "Validated", "every check that applies to the spec passed"
	switch {
	case len(failures) > 0:
		ok, reason, msg = false, "ChecksFailed", strings.Join(append(failures, warnings...), "; ")
	case len(warnings) > 0:
		reason, msg = "ValidatedWithWarnings", strings.Join(warnings, "; ")
	}
	if prev := meta.FindStatusCondition(s.cl.Status.Conditions, clv1.ConditionSecurityValidated); reason != "Validated" &&
		(prev == nil || prev.Reason != reason || prev.Message != msg) {
		r.Recorder.Eventf(s.cl, nil, corev1.EventTypeWarning, "Security"+reason, "Validate", "%s", msg)
	}
	s.condition(clv1.ConditionSecurityValidated, ok, reason, msg)
	return nil
}
