/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations on a ContractLucidity that ask the operator for a one-time
// action on the instance's generated Secrets or its version.
const (
	// AnnotationAcceptNewSecrets lists secret kinds (comma-separated: jwt,
	// encryption, database, redis, admin) whose lost generated Secret the
	// operator may generate anew, accepting what that loses (see README
	// "Secrets: loss and rotation"). Each kind is used once: the operator
	// records it in status.secrets[].newValuesAcceptedAt, and a later loss
	// needs the kind removed from the annotation and added again.
	AnnotationAcceptNewSecrets = "contractlucidity.io/accept-new-secrets"
	// AnnotationRotate lists secret kinds (jwt, encryption, database,
	// redis) to rotate without interruption. Each listed kind is rotated
	// once; to rotate it again, remove it from the annotation and add it
	// again after status.secrets[].lastRotatedAt changed.
	AnnotationRotate = "contractlucidity.io/rotate"
	// AnnotationAllowDowngrade "true" lets spec.version go below the
	// version the database was migrated to.
	AnnotationAllowDowngrade = "contractlucidity.io/allow-downgrade"
)

// SecretKind names one generated Secret by what it holds.
// +kubebuilder:validation:Enum=jwt;encryption;database;redis;admin
type SecretKind string

// Secret kinds.
const (
	// SecretKindJWT is <name>-jwt: the access-token signing key.
	SecretKindJWT SecretKind = "jwt"
	// SecretKindEncryption is <name>-encryption: the key of the stored AI provider keys.
	SecretKindEncryption SecretKind = "encryption"
	// SecretKindDatabase is <name>-postgres: the managed PostgreSQL's passwords.
	SecretKindDatabase SecretKind = "database"
	// SecretKindRedis is <name>-redis: the managed Redis' password.
	SecretKindRedis SecretKind = "redis"
	// SecretKindAdmin is <name>-admin: the first administrator's one-time password.
	SecretKindAdmin SecretKind = "admin"
)

// RotationPhase is the step a rotation is in. The new value is always
// written to the Secret before a server or a pod uses it.
// +kubebuilder:validation:Enum=Staged;Promoted;Reencrypting;Completing
type RotationPhase string

// Rotation phases.
const (
	// RotationStaged: the new value is accepted but not used (verify-only
	// JWT key, decrypt-only encryption key, fallback database password,
	// second Redis password) and rolls out to every consumer.
	RotationStaged RotationPhase = "Staged"
	// RotationPromoted: the new value is the current one and the old one is
	// still accepted, until every consumer uses the new one (and, for JWT,
	// until the tokens signed with the old key expired).
	RotationPromoted RotationPhase = "Promoted"
	// RotationReencrypting: a Job rewrites every stored ciphertext with the
	// new encryption key.
	RotationReencrypting RotationPhase = "Reencrypting"
	// RotationCompleting: the old value is removed and that change rolls out.
	RotationCompleting RotationPhase = "Completing"
)

// SecretStatus is the lifecycle of one generated Secret.
type SecretStatus struct {
	// Kind of the Secret.
	Kind SecretKind `json:"kind"`
	// Name of the Secret.
	Name string `json:"name"`
	// UID of the Secret when last seen.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// CreatedAt is when the Secret was created.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// LastRotatedAt is when the last rotation of the Secret completed.
	// +optional
	LastRotatedAt *metav1.Time `json:"lastRotatedAt,omitempty"`
	// NewValuesAcceptedAt is when the operator generated this Secret anew
	// after it was lost, because the accept-new-secrets annotation listed
	// its kind. It is cleared once the annotation no longer lists the kind.
	// +optional
	NewValuesAcceptedAt *metav1.Time `json:"newValuesAcceptedAt,omitempty"`
	// RotationRequestHandled is true once the rotate annotation's request
	// for this kind was acted upon; cleared once the annotation no longer
	// lists the kind.
	// +optional
	RotationRequestHandled bool `json:"rotationRequestHandled,omitempty"`
	// Rotation is the rotation in progress.
	// +optional
	Rotation *RotationStatus `json:"rotation,omitempty"`
}

// RotationStatus is a rotation in progress.
type RotationStatus struct {
	// Phase of the rotation.
	Phase RotationPhase `json:"phase"`
	// StartedAt is when the rotation started.
	StartedAt metav1.Time `json:"startedAt"`
	// PhaseStartedAt is when the current phase's change was written to the Secret.
	PhaseStartedAt metav1.Time `json:"phaseStartedAt"`
	// RolledOutAt is when every consumer was first seen running with the
	// current phase's values.
	// +optional
	RolledOutAt *metav1.Time `json:"rolledOutAt,omitempty"`
	// Waiting says what the rotation waits for.
	// +optional
	Waiting string `json:"waiting,omitempty"`
}

// Condition type and reasons of the Secrets' lifecycle and of upgrades.
const (
	// ConditionSecretsRotated is True when no requested rotation is in
	// progress (absent until a rotation was requested).
	ConditionSecretsRotated = "SecretsRotated"

	// ReasonSecretLost: a generated Secret the instance's data depends on
	// is missing; the operator does not replace it on its own.
	ReasonSecretLost = "SecretLost"
	// ReasonRotating: a rotation is in progress.
	ReasonRotating = "Rotating"
	// ReasonRotated: every requested rotation completed.
	ReasonRotated = "Rotated"
	// ReasonRotationRefused: a rotation was asked for a Secret the
	// operator does not own (user-provided) or does not know.
	ReasonRotationRefused = "RotationRefused"
	// ReasonVersionDowngradeRefused: spec.version is below the version the
	// database was migrated to; the instance stays at that version.
	ReasonVersionDowngradeRefused = "VersionDowngradeRefused"
)
