/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

const pinned = "@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSecurityFindings(t *testing.T) {
	tlsReady := []metav1.Condition{{Type: clv1.ConditionTLSReady, Status: metav1.ConditionTrue, Reason: clv1.ReasonTLSSecretReady}}
	for _, tc := range []struct {
		name       string
		edit       func(*clv1.ContractLucidity)
		conds      []metav1.Condition
		weak       []string
		fails      []string // each a part of one failure
		warnImages bool
	}{
		{"the production sample with its certificate", nil, tlsReady, nil, nil, true},
		{"certificate not ready", nil, []metav1.Condition{{Type: clv1.ConditionTLSReady, Status: metav1.ConditionFalse,
			Message: "TLS Secret contracts-tls does not exist"}}, nil, []string{"TLS: TLS Secret contracts-tls does not exist"}, true},
		{"TLS not checked yet", nil, nil, nil, []string{"TLS: not verified yet"}, true},
		{"no TLS", func(cl *clv1.ContractLucidity) { cl.Spec.Ingress.TLS = nil }, tlsReady, nil,
			[]string{"the Ingress does not serve TLS"}, true},
		{"http origin", func(cl *clv1.ContractLucidity) { cl.Spec.CORS.Origins = []string{"http://contracts.example.com"} }, tlsReady, nil,
			[]string{`origin "http://contracts.example.com"`}, true},
		{"network policies off", func(cl *clv1.ContractLucidity) { cl.Spec.NetworkPolicy.Enabled = ptr.To(false) }, tlsReady, nil,
			[]string{"NetworkPolicies: off"}, true},
		{"weak secret", nil, tlsReady, []string{`Secret "db" key "password": weak`}, []string{`Secret "db" key "password": weak`}, true},
		{"every image pinned", func(cl *clv1.ContractLucidity) {
			cl.Spec.Images = clv1.ImagesSpec{Frontend: "registry.example/f" + pinned, Backend: "registry.example/b" + pinned, Worker: "registry.example/w" + pinned}
			cl.Spec.Database.Managed.Image = "pgvector/pgvector" + pinned
			cl.Spec.Redis.Managed.Image = "redis" + pinned
		}, tlsReady, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := loadSample(t, samples["production"])
			if tc.edit != nil {
				tc.edit(cl)
			}
			fails, warns := securityFindings(Defaulted(cl), tc.conds, tc.weak)
			if len(fails) != len(tc.fails) {
				t.Fatalf("fails %q, want %d like %q", fails, len(tc.fails), tc.fails)
			}
			for i := range fails {
				if !strings.Contains(fails[i], tc.fails[i]) {
					t.Errorf("fail %q, want %q in it", fails[i], tc.fails[i])
				}
			}
			if got := len(warns) == 1 && strings.Contains(warns[0], "not pinned by digest") &&
				strings.Contains(warns[0], DefaultImageRepository+":"+cl.Spec.Version); got != tc.warnImages {
				t.Errorf("warnings %q, want the unpinned images: %v", warns, tc.warnImages)
			}
		})
	}
}

func TestWeakUserSecrets(t *testing.T) {
	cl := loadSample(t, samples["production"])
	cl.Spec.Database = &clv1.DatabaseSpec{External: &clv1.ExternalDatabase{SecretRef: clv1.SecretRef{Name: "db"}}}
	cl.Spec.Redis = &clv1.RedisSpec{External: &clv1.ExternalRedis{SecretRef: clv1.SecretRef{Name: "cache"}}}
	cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "jwt"}
	secret := func(kv ...string) *corev1.Secret {
		s := &corev1.Secret{Data: map[string][]byte{}}
		for i := 0; i < len(kv); i += 2 {
			s.Data[kv[i]] = []byte(kv[i+1])
		}
		return s
	}
	for _, tc := range []struct {
		key  SecretKey
		sec  *corev1.Secret
		want string // "" for strong enough
	}{
		{SecretKey{"db", ExternalDBPassword}, secret("password", "Password"), "well-known default"},
		{SecretKey{"db", ExternalDBPassword}, secret("password", "s3cr3t"), "shorter than 8"},
		{SecretKey{"db", ExternalDBPassword}, secret("password", "k9Q2-vX7p-Lm4w"), ""},
		{SecretKey{"db", ExternalDBUser}, secret("user", "postgres"), ""}, // a user name, not a secret
		{SecretKey{"cache", ExternalRedisURL}, secret("url", "redis://:redis@cache:6379/0"), "Redis password in the URL"},
		{SecretKey{"cache", ExternalRedisURL}, secret("url", "redis://cache:6379/0", "password", "changeme"), `key "password"`},
		{SecretKey{"cache", ExternalRedisURL}, secret("url", "rediss://cache:6380/0", "password", "k9Q2-vX7p-Lm4w"), ""},
		{SecretKey{"jwt", SecretKeyJWT}, secret(SecretKeyJWT, "contract-lucidity-development-jwt-secret-do-not-use"), "well-known default"},
	} {
		got := strings.Join(weakUserSecrets(Defaulted(cl), tc.key, tc.sec), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want %q", tc.key, got, tc.want)
		}
		for _, v := range tc.sec.Data {
			if got != "" && strings.Contains(got, string(v)) && len(v) > 8 {
				t.Errorf("%v: the message %q holds the secret value", tc.key, got)
			}
		}
	}
}

// On a real API server: a production instance without its certificate and
// with NetworkPolicies off fails the checks, naming both; with them fixed
// it passes with the unpinned images as a warning; a referenced Secret
// holding a well-known value fails it again, named without its value.
func TestSecurityValidated(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "production", func(cl *clv1.ContractLucidity) {
		cl.Spec.Ingress.TLS.IssuerRef = nil
		cl.Spec.NetworkPolicy.Enabled = ptr.To(false)
	})
	playCluster(t, ns, cl)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionSecurityValidated, metav1.ConditionFalse, clv1.ReasonSecurityFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionSecurityValidated)
	for _, want := range []string{"2 failed", "TLS Secret contracts-tls does not exist", "NetworkPolicies: off", "not pinned by digest"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("SecurityValidated message %q lacks %q", c.Message, want)
		}
	}

	provideTLS(t, ns, cl)
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.NetworkPolicy.Enabled = ptr.To(true) })
	waitCondition(t, ns, cl.Name, clv1.ConditionSecurityValidated, metav1.ConditionTrue, clv1.ReasonSecurityWarnings)

	const weak = "contract-lucidity-development-jwt-secret-do-not-use"
	if err := k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt"},
		Data: map[string][]byte{SecretKeyJWT: []byte(weak)}}); err != nil {
		t.Fatal(err)
	}
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "jwt"} })
	got = waitCondition(t, ns, cl.Name, clv1.ConditionSecurityValidated, metav1.ConditionFalse, clv1.ReasonSecurityFailed)
	c = meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionSecurityValidated)
	if !strings.Contains(c.Message, `Secret "jwt" key "`+SecretKeyJWT+`"`) || strings.Contains(c.Message, weak) {
		t.Errorf("SecurityValidated message %q should name Secret jwt and never its value", c.Message)
	}

	// Development: the checks report, never fail.
	dev := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) { cl.Name = "dev" })
	got = waitCondition(t, ns, dev.Name, clv1.ConditionSecurityValidated, metav1.ConditionTrue, clv1.ReasonSecurityDevelopment)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionSecurityValidated); !strings.Contains(c.Message, "production would report: TLS") {
		t.Errorf("development SecurityValidated message %q does not say what production would report", c.Message)
	}
}
