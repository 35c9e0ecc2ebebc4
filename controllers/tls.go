/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// The TLS Secret and cert-manager's Certificate are read, never written:
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=get

// CertificateGVK is cert-manager's Certificate. Its ingress-shim creates
// one per Secret named in an annotated Ingress, named after the Secret.
var CertificateGVK = schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}

// tlsRecheck is how often an instance whose certificate is not ready yet is
// looked at again: Certificates are not watched, and a Secret that appears
// is (secretwatch.go) but may be incomplete at first.
const tlsRecheck = 30 * time.Second

// reconcileTLS sets TLSReady when the Ingress serves TLS: the Secret must
// hold a certificate (and key) for spec.host that has not expired and,
// with an issuer named and cert-manager's Certificate served, the
// Certificate must be Ready. Until then the instance is not Ready: the
// ingress controller would serve its own default certificate.
func (r *ContractLucidityReconciler) reconcileTLS(ctx context.Context, s *state) error {
	tls := s.d.Spec.Ingress.TLS
	if !s.d.Spec.Ingress.Enabled || tls == nil {
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionTLSReady)
		return nil
	}
	ok, reason, msg, err := r.checkTLS(ctx, s.d, time.Now())
	if err != nil {
		return err
	}
	s.condition(clv1.ConditionTLSReady, ok, reason, msg)
	if !ok && (s.requeueAfter == 0 || s.requeueAfter > tlsRecheck) {
		s.requeueAfter = tlsRecheck
	}
	return nil
}

func (r *ContractLucidityReconciler) checkTLS(ctx context.Context, cl *clv1.ContractLucidity, now time.Time) (bool, string, string, error) {
	tls := cl.Spec.Ingress.TLS
	prefix := ""
	if tls.IssuerRef != nil {
		_, err := r.RESTMapper.RESTMapping(CertificateGVK.GroupKind(), CertificateGVK.Version)
		switch {
		case meta.IsNoMatchError(err):
			prefix = fmt.Sprintf("cert-manager's Certificate is not served in this cluster, so nothing issues a certificate for %s %s: install cert-manager, or ", tls.IssuerRef.Kind, tls.IssuerRef.Name)
		case err != nil:
			return false, "", "", fmt.Errorf("discover Certificate: %w", err)
		default:
			ok, reason, msg, err := r.checkCertificate(ctx, cl)
			if err != nil || !ok {
				return ok, reason, msg, err
			}
		}
	}
	sec := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: cl.Namespace, Name: tls.SecretName}, sec)
	if isNotFound(err) {
		if prefix == "" && tls.IssuerRef != nil {
			return false, clv1.ReasonTLSSecretMissing, fmt.Sprintf("Certificate %s is Ready but its Secret %s does not exist yet", tls.SecretName, tls.SecretName), nil
		}
		if prefix == "" {
			prefix = "create it (kubectl create secret tls " + tls.SecretName + " --cert=... --key=...) or "
		}
		return false, clv1.ReasonTLSSecretMissing, fmt.Sprintf("TLS Secret %s does not exist in namespace %s: %sname a cert-manager issuer in spec.ingress.tls.issuerRef",
			tls.SecretName, cl.Namespace, prefix), nil
	}
	if err != nil {
		return false, "", "", fmt.Errorf("read TLS Secret %s: %w", tls.SecretName, err)
	}
	reason, msg := CheckTLSSecret(sec, cl.Spec.Host, now)
	return reason == clv1.ReasonTLSSecretReady, reason, msg, nil
}

// checkCertificate reads the cert-manager Certificate named after the
// Secret (ingress-shim's name) and reports whether it is Ready.
func (r *ContractLucidityReconciler) checkCertificate(ctx context.Context, cl *clv1.ContractLucidity) (bool, string, string, error) {
	tls := cl.Spec.Ingress.TLS
	cert := &unstructured.Unstructured{}
	cert.SetGroupVersionKind(CertificateGVK)
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: cl.Namespace, Name: tls.SecretName}, cert)
	if isNotFound(err) {
		return false, clv1.ReasonCertificatePending, fmt.Sprintf(
			"cert-manager has not created Certificate %s yet (its ingress-shim does, from the Ingress %s annotated with %s %s): check that cert-manager runs and the %s exists",
			tls.SecretName, Name(cl, ComponentFrontend), tls.IssuerRef.Kind, tls.IssuerRef.Name, tls.IssuerRef.Kind), nil
	}
	if err != nil {
		return false, "", "", fmt.Errorf("read Certificate %s: %w", tls.SecretName, err)
	}
	conds, _, _ := unstructured.NestedSlice(cert.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		if m["status"] == string(metav1.ConditionTrue) {
			return true, "", "", nil
		}
		return false, clv1.ReasonCertificateNotReady, fmt.Sprintf("Certificate %s is not Ready: %v: %v (kubectl describe certificate %s)",
			tls.SecretName, m["reason"], m["message"], tls.SecretName), nil
	}
	return false, clv1.ReasonCertificateNotReady, fmt.Sprintf("Certificate %s has no Ready condition yet (kubectl describe certificate %s)", tls.SecretName, tls.SecretName), nil
}

// CheckTLSSecret checks that a Secret holds a certificate and key, that
// the certificate covers host and is valid at now. It returns a reason
// (ReasonTLSSecretReady when usable) and a message naming the Secret.
func CheckTLSSecret(sec *corev1.Secret, host string, now time.Time) (string, string) {
	if len(sec.Data[corev1.TLSCertKey]) == 0 || len(sec.Data[corev1.TLSPrivateKeyKey]) == 0 {
		return clv1.ReasonTLSSecretInvalid, fmt.Sprintf("TLS Secret %s lacks %s or %s", sec.Name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil || block.Type != "CERTIFICATE" {
		return clv1.ReasonTLSSecretInvalid, fmt.Sprintf("TLS Secret %s: %s is not a PEM certificate", sec.Name, corev1.TLSCertKey)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return clv1.ReasonTLSSecretInvalid, fmt.Sprintf("TLS Secret %s: %s: %v", sec.Name, corev1.TLSCertKey, err)
	}
	switch {
	case now.After(cert.NotAfter):
		return clv1.ReasonCertificateExpired, fmt.Sprintf("the certificate in TLS Secret %s expired at %s", sec.Name, cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return clv1.ReasonCertificateExpired, fmt.Sprintf("the certificate in TLS Secret %s is valid only from %s", sec.Name, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if host != "" {
		if err := cert.VerifyHostname(host); err != nil {
			return clv1.ReasonCertificateHostMismatch, fmt.Sprintf("the certificate in TLS Secret %s does not cover spec.host %s: %v", sec.Name, host, err)
		}
	}
	return clv1.ReasonTLSSecretReady, fmt.Sprintf("TLS Secret %s holds a certificate for %s valid until %s", sec.Name, host, cert.NotAfter.UTC().Format(time.RFC3339))
}
