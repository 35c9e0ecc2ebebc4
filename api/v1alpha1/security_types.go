/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

// Security conditions (controllers/security.go).
const (
	// ConditionSecurityValidated: the security checks that apply to the
	// spec pass. In production: TLS at the Ingress verified (TLSReady),
	// https CORS origins, NetworkPolicies on, referenced Secrets strong
	// enough (failures), images pinned by digest (a warning). In
	// development the same checks only report what production would
	// refuse. It informs; Ready does not wait for it.
	ConditionSecurityValidated = "SecurityValidated"

	ReasonSecurityPassed       = "Passed"
	ReasonSecurityWarnings     = "PassedWithWarnings"
	ReasonSecurityFailed       = "ChecksFailed"
	ReasonSecurityDevelopment  = "Development"
	ReasonSecurityNotEvaluated = "NotEvaluated"
)
