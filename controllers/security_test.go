/*
Copyright 2026 The Contract Lucidity Authors.
Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func findings(fs []SecurityFinding) map[string]SecurityFinding {
	out := map[string]SecurityFinding{}
	for _, f := range fs {
		out[f.Check] = f
	}
	return out
}

func TestSecurityChecksApplyToTheSpec(t *testing.T) {
	prod := Defaulted(loadSample(t, samples["production"]))
	jwt := SecretKey{"jwt", "k"}
	prod.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: jwt.Name, Key: jwt.Key}

	// Production with its TLS Secret, a strong key and tagged images: only
	// the advice to pin images by digest.
	strong := []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	got := findings(SecurityChecks(prod, SecurityInputs{TLSSecretFound: true, Secrets: map[SecretKey][]byte{jwt: strong}}))
	if len(got) != 1 || !got["images"].Warning || !strings.Contains(got["images"].Message, "redis:") {
		t.Fatalf("findings %+v, want only the images warning naming every tagged image", got)
	}

	// What production may not lack is a failure; development only warns.
	weak := []byte(strings.Repeat("ab", 20))
	bad := prod.DeepCopy()
	bad.Spec.NetworkPolicy.Enabled = ptr.To(false)
	bad.Spec.CORS.Origins = []string{"https://contracts.example.com", "http://intranet.example.com"}
	in := SecurityInputs{TLSSecretFound: false, Secrets: map[SecretKey][]byte{jwt: weak}}
	got = findings(SecurityChecks(bad, in))
	for _, c := range []string{"tls", "cors", "networkPolicies", "secrets"} {
		if f, ok := got[c]; !ok || f.Warning {
			t.Errorf("production %s: %+v, want a failure", c, f)
		}
	}
	if !strings.Contains(got["tls"].Message, "contracts-tls") || !strings.Contains(got["secrets"].Message, "2 distinct") ||
		!strings.Contains(got["cors"].Message, "http://intranet.example.com") {
		t.Errorf("messages do not say what is wrong: %+v", got)
	}
	dev := bad.DeepCopy()
	dev.Spec.Environment = clv1.EnvironmentDevelopment
	for c, f := range findings(SecurityChecks(dev, in)) {
		if !f.Warning {
			t.Errorf("development %s is a failure, want a warning: %s", c, f.Message)
		}
	}

	// A TLS step's verdict wins over the Secret's mere existence.
	notReady := &metav1.Condition{Type: clv1.ConditionTLSReady, Status: metav1.ConditionFalse, Message: "the certificate expired"}
	got = findings(SecurityChecks(prod, SecurityInputs{TLS: notReady, TLSSecretFound: true, Secrets: map[SecretKey][]byte{jwt: strong}}))
	if !strings.Contains(got["tls"].Message, "expired") {
		t.Errorf("tls finding %+v, want the TLS condition's message", got["tls"])
	}

	// A development instance served on localhost over http is fine.
	local := Defaulted(loadSample(t, samples["development"]))
	for c, f := range findings(SecurityChecks(local, SecurityInputs{})) {
		t.Errorf("development sample: unexpected %s finding: %s", c, f.Message)
	}
}

// selfSigned returns a PEM certificate and key for host, valid for a day.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func TestSecurityValidatedFollowsTheCluster(t *testing.T) {
	ns := newNamespace(t)
	jwt := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jwt"},
		Data: map[string][]byte{"k": []byte(strings.Repeat("ab", 20))}}
	if err := k8sClient.Create(ctx, jwt); err != nil {
		t.Fatal(err)
	}
	cl := createSample(t, ns, "production", func(cl *clv1.ContractLucidity) {
		cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "jwt", Key: "k"}
	})
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))

	condition := func(reason string, contains ...string) {
		t.Helper()
		eventually(t, wait, "SecurityValidated "+reason, func() error {
			c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionSecurityValidated)
			if c == nil {
				return fmt.Errorf("no SecurityValidated condition")
			}
			if c.Reason != reason {
				return fmt.Errorf("SecurityValidated %s %s: %s", c.Status, c.Reason, c.Message)
			}
			for _, s := range contains {
				if !strings.Contains(c.Message, s) {
					return fmt.Errorf("message %q does not name %q", c.Message, s)
				}
			}
			return nil
		})
	}
	condition("ChecksFailed", "contracts-tls", "Secret jwt key k", "images:")

	certPEM, keyPEM := selfSigned(t, "contracts.example.com")
	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "contracts-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	if err := k8sClient.Create(ctx, tls); err != nil {
		t.Fatal(err)
	}
	jwt.Data["k"] = []byte("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	if err := k8sClient.Update(ctx, jwt); err != nil {
		t.Fatal(err)
	}
	// The images are tagged, not pinned: advice, and the condition is True.
	condition("ValidatedWithWarnings", "images:")
	if c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionSecurityValidated); c.Status != metav1.ConditionTrue {
		t.Fatalf("SecurityValidated %s with only warnings, want True", c.Status)
	}
}
