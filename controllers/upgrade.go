/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// VersionLower reports whether version a is clearly lower than b: by
// semantic versioning when both are semantic versions (pre-releases sort
// before their release), else by their leading numeric components. Tags
// that are not versions ("latest", "main-1a2b3c") are never lower.
func VersionLower(a, b string) bool {
	if va, err := version.ParseSemantic(a); err == nil {
		if vb, err := version.ParseSemantic(b); err == nil {
			return va.LessThan(vb)
		}
	}
	va, errA := version.ParseGeneric(a)
	vb, errB := version.ParseGeneric(b)
	return errA == nil && errB == nil && va.LessThan(vb)
}

// DowngradePolicy decides whether spec.version (target) may replace the
// version the database was migrated to: a lower version would run against
// a schema it does not know (the services refuse to start on unknown
// migrations), so it is refused unless the allow-downgrade annotation says
// the schemas are compatible.
func DowngradePolicy(target, migrated string, allowed bool) (refuse bool, reason, message string) {
	if migrated == "" || target == migrated || !VersionLower(target, migrated) || allowed {
		return false, "", ""
	}
	return true, clv1.ReasonVersionDowngradeRefused, fmt.Sprintf(
		"spec.version %s is lower than %s, the version the database was migrated to; the instance stays at %s. "+
			"Set spec.version back to %s or higher; to go back to %s, restore a backup taken before the upgrade into a new instance, "+
			"or, if you know its schema is compatible, set the annotation %s: \"true\"",
		target, migrated, migrated, migrated, target, clv1.AnnotationAllowDowngrade)
}

// reconcileVersion keeps the instance at its migrated version when
// spec.version asks for a refused downgrade: every later step builds from
// the pinned version, so nothing rolls, and the instance is Degraded.
func (r *ContractLucidityReconciler) reconcileVersion(_ context.Context, s *state) error {
	refuse, reason, msg := DowngradePolicy(s.d.Spec.Version, s.status.MigratedVersion,
		s.cl.Annotations[clv1.AnnotationAllowDowngrade] == "true")
	if refuse {
		s.d.Spec.Version = s.status.MigratedVersion
		s.warning = &stepError{reason: reason, message: msg, err: errors.New(msg)}
	}
	return nil
}
