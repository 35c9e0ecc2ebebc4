/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

// TLS conditions (controllers/tls.go).
const (
	// ConditionTLSReady: the Ingress' TLS Secret holds a valid certificate
	// for spec.host (and, with an issuer named and cert-manager installed,
	// its Certificate is Ready). Set only when the Ingress serves TLS, and
	// then part of Ready.
	ConditionTLSReady = "TLSReady"

	ReasonTLSSecretReady          = "SecretReady"
	ReasonTLSSecretMissing        = "SecretMissing"
	ReasonTLSSecretInvalid        = "SecretInvalid"
	ReasonCertificateExpired      = "CertificateExpired"
	ReasonCertificateHostMismatch = "CertificateHostMismatch"
	ReasonCertificatePending      = "CertificatePending"
	ReasonCertificateNotReady     = "CertificateNotReady"
)
