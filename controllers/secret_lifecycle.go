/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// A generated Secret is created once. Once the instance's data depends on
// it, a missing one is never generated anew on the operator's own account:
// the old values are still in the data (the PostgreSQL data directory,
// ciphertexts of stored AI provider keys, signed tokens), so new values
// would break the instance silently. The instance goes Degraded with
// reason SecretLost and a message that says how to restore the Secret, or
// which annotation accepts new values and what that loses.

// AnnotationNewValuesAcceptedAt on a generated Secret records that it was
// generated anew after a loss, accepted by the accept-new-secrets annotation.
const AnnotationNewValuesAcceptedAt = "contractlucidity.io/new-values-accepted-at"

// errSecretLost marks a generated Secret that is missing after the data
// was initialised.
var errSecretLost = errors.New("generated Secret lost")

// DataInitialized reports whether the instance holds data that depends on
// its generated Secrets: recorded before, a migration succeeded, or the
// managed database's data volume exists (a re-created resource over a
// retained volume).
func DataInitialized(st *clv1.ContractLucidityStatus, databaseVolumeExists bool) bool {
	return st.DataInitialized || st.MigratedVersion != "" || databaseVolumeExists
}

// DatabaseVolumeName is the data PVC of the managed PostgreSQL StatefulSet.
func DatabaseVolumeName(cl *clv1.ContractLucidity) string {
	return "data-" + Name(cl, ComponentPostgres) + "-0"
}

// observeDataInitialized records in the status whether the data is initialised.
func (r *ContractLucidityReconciler) observeDataInitialized(ctx context.Context, s *state) error {
	if DataInitialized(&s.status, false) {
		s.status.DataInitialized = true
		return nil
	}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: DatabaseVolumeName(s.cl)}, &corev1.PersistentVolumeClaim{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("get PersistentVolumeClaim %s: %w", DatabaseVolumeName(s.cl), err)
	}
	s.status.DataInitialized = DataInitialized(&s.status, err == nil)
	return nil
}

// ParseSecretKinds reads a comma-separated list of secret kinds (an
// annotation's value); unknown entries are returned apart.
func ParseSecretKinds(v string) (kinds []clv1.SecretKind, unknown []string) {
	for _, p := range strings.Split(v, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		switch k := clv1.SecretKind(p); k {
		case "":
		case clv1.SecretKindJWT, clv1.SecretKindEncryption, clv1.SecretKindDatabase, clv1.SecretKindRedis, clv1.SecretKindAdmin:
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		default:
			unknown = append(unknown, p)
		}
	}
	return kinds, unknown
}

// MissingSecret is what the operator knows about a generated Secret that
// does not exist.
type MissingSecret struct {
	Kind clv1.SecretKind
	Name string
	// DataInitialized: the instance's data may depend on the lost values.
	DataInitialized bool
	// Accepted: the accept-new-secrets annotation lists the kind.
	Accepted bool
	// AcceptSpent: the annotation's acceptance of the kind was used already.
	AcceptSpent bool
}

// Reasons of MissingSecretPolicy besides clv1.ReasonSecretLost.
const (
	ReasonSecretGenerated   = "SecretGenerated"
	ReasonNewValuesAccepted = "NewSecretValuesAccepted"
)

// MissingSecretPolicy decides about a missing generated Secret: generate it
// (first creation, or new values accepted by the annotation), or report it
// lost. The message says what happens or what to do.
func MissingSecretPolicy(m MissingSecret) (generate bool, reason, message string) {
	switch {
	case !m.DataInitialized:
		return true, ReasonSecretGenerated, fmt.Sprintf("generated Secret %s", m.Name)
	case m.Accepted && !m.AcceptSpent:
		return true, ReasonNewValuesAccepted, fmt.Sprintf("generated Secret %s anew, as annotation %s accepts: %s",
			m.Name, clv1.AnnotationAcceptNewSecrets, acceptConsequence(m.Kind))
	}
	msg := fmt.Sprintf("Secret %s (%s) is missing, and the instance's data depends on it. Restore it with kubectl apply "+
		"from your copy of it (or restore the instance from a backup); or accept new values with the annotation %s: %s (%s)",
		m.Name, secretPurpose(m.Kind), clv1.AnnotationAcceptNewSecrets, m.Kind, acceptConsequence(m.Kind))
	if m.AcceptSpent {
		msg += fmt.Sprintf("; the annotation already listed %s when new values were accepted before: remove %s from it and add it again to accept once more", m.Kind, m.Kind)
	}
	return false, clv1.ReasonSecretLost, msg
}

// secretPurpose says what a generated Secret holds and what depends on it.
func secretPurpose(k clv1.SecretKind) string {
	switch k {
	case clv1.SecretKindJWT:
		return "the key that signs access tokens"
	case clv1.SecretKindEncryption:
		return "the key that encrypts the stored AI provider keys"
	case clv1.SecretKindDatabase:
		return "the PostgreSQL passwords the database was initialised with"
	case clv1.SecretKindRedis:
		return "the Redis password; Redis holds only the job queue, so the risk is low"
	default:
		return "the first administrator's one-time password"
	}
}

// acceptConsequence says what accepting new values for a kind loses.
func acceptConsequence(k clv1.SecretKind) string {
	switch k {
	case clv1.SecretKindJWT:
		return "every access token issued so far is refused, so users sign in again"
	case clv1.SecretKindEncryption:
		return "the stored AI provider keys can no longer be decrypted: an administrator must enter every provider's API key again"
	case clv1.SecretKindDatabase:
		return "the credentials container of the PostgreSQL pod sets the new passwords on the roles (ALTER ROLE over the local socket) and backend and worker restart with them; no data is lost"
	case clv1.SecretKindRedis:
		return "Redis restarts with the new password and its queued jobs are lost; the worker re-enqueues documents that are still pending"
	default:
		return "a new one-time password is generated, which matters only if the first administrator never signed in"
	}
}

// missingGeneratedSecret decides about the missing Secret g and either
// creates it or returns errSecretLost (with the message in lostMessages).
func (r *ContractLucidityReconciler) missingGeneratedSecret(ctx context.Context, s *state, g GeneratedSecret) (*corev1.Secret, error) {
	accepted, _ := ParseSecretKinds(s.cl.Annotations[clv1.AnnotationAcceptNewSecrets])
	st := secretStatus(&s.status, g.Kind)
	generate, reason, msg := MissingSecretPolicy(MissingSecret{
		Kind: g.Kind, Name: g.Name, DataInitialized: s.status.DataInitialized,
		Accepted: slices.Contains(accepted, g.Kind), AcceptSpent: st != nil && st.NewValuesAcceptedAt != nil,
	})
	if !generate {
		s.lostSecrets = append(s.lostSecrets, msg)
		return nil, errSecretLost
	}
	desired, err := BuildGeneratedSecret(s.d, g, r.Rand)
	if err != nil {
		return nil, err
	}
	// Created without owner references (see reconcileSecretMeta).
	desired.OwnerReferences = nil
	now := metav1.Now()
	if reason == ReasonNewValuesAccepted {
		// Recorded on the Secret too: the status write of this reconcile
		// may be overwritten by one based on an older read (recordSecrets).
		desired.Annotations = map[string]string{AnnotationNewValuesAcceptedAt: now.UTC().Format(time.RFC3339)}
	}
	if err := r.Client.Create(ctx, desired, client.FieldOwner(FieldManager)); err != nil {
		return nil, fmt.Errorf("create secret %s: %w", g.Name, err)
	}
	if reason == ReasonNewValuesAccepted {
		e := setSecretStatus(&s.status, g, desired)
		e.NewValuesAcceptedAt = &now
		e.Rotation = nil // the values a rotation was moving between are gone
		r.Recorder.Eventf(s.cl, desired, corev1.EventTypeWarning, reason, "Create", "%s", msg)
	} else {
		r.Recorder.Eventf(s.cl, desired, corev1.EventTypeNormal, reason, "Create", "%s", msg)
	}
	return desired, nil
}

// secretsLost is the step error for the lost Secrets of this reconcile.
func (s *state) secretsLost() *stepError {
	msg := strings.Join(s.lostSecrets, ". ")
	s.condition(clv1.ConditionSecretsReady, false, clv1.ReasonSecretLost, msg)
	return &stepError{reason: clv1.ReasonSecretLost, message: msg, err: errSecretLost}
}

// secretStatus returns the status entry of kind, or nil.
func secretStatus(st *clv1.ContractLucidityStatus, kind clv1.SecretKind) *clv1.SecretStatus {
	for i := range st.Secrets {
		if st.Secrets[i].Kind == kind {
			return &st.Secrets[i]
		}
	}
	return nil
}

// setSecretStatus records the live Secret of g in the status and returns its entry.
func setSecretStatus(st *clv1.ContractLucidityStatus, g GeneratedSecret, sec *corev1.Secret) *clv1.SecretStatus {
	e := secretStatus(st, g.Kind)
	if e == nil {
		st.Secrets = append(st.Secrets, clv1.SecretStatus{Kind: g.Kind})
		slices.SortFunc(st.Secrets, func(a, b clv1.SecretStatus) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
		e = secretStatus(st, g.Kind)
	}
	e.Name = g.Name
	if sec.UID != "" {
		e.UID = sec.UID
	}
	if !sec.CreationTimestamp.IsZero() {
		created := sec.CreationTimestamp
		e.CreatedAt = &created
	}
	return e
}

// recordSecrets updates status.secrets from this reconcile's generated
// Secrets: drops kinds no longer generated and forgets spent annotation
// entries for kinds the annotations no longer list.
func (s *state) recordSecrets(gens []GeneratedSecret, live map[clv1.SecretKind]*corev1.Secret) {
	accepted, _ := ParseSecretKinds(s.cl.Annotations[clv1.AnnotationAcceptNewSecrets])
	rotate, _ := ParseSecretKinds(s.cl.Annotations[clv1.AnnotationRotate])
	var keep []clv1.SecretStatus
	for _, g := range gens {
		if sec := live[g.Kind]; sec != nil {
			if e := secretStatus(&s.status, g.Kind); e == nil || e.UID != sec.UID {
				// A Secret the status has not recorded: if it was generated
				// on an acceptance, the acceptance is spent.
				if t, err := time.Parse(time.RFC3339, sec.Annotations[AnnotationNewValuesAcceptedAt]); err == nil && slices.Contains(accepted, g.Kind) {
					setSecretStatus(&s.status, g, sec).NewValuesAcceptedAt = &metav1.Time{Time: t}
				}
			}
			setSecretStatus(&s.status, g, sec)
		}
		e := secretStatus(&s.status, g.Kind)
		if e == nil {
			continue
		}
		if !slices.Contains(accepted, g.Kind) {
			e.NewValuesAcceptedAt = nil
		}
		if !slices.Contains(rotate, g.Kind) {
			e.RotationRequestHandled = false
		}
		keep = append(keep, *e)
	}
	s.status.Secrets = keep
}

// acceptedAt is when the generated Secret of kind was generated anew after
// a loss ("" if it was not).
func (s *state) acceptedAt(kind clv1.SecretKind) string {
	if sec := s.generated[kind]; sec != nil {
		return sec.Annotations[AnnotationNewValuesAcceptedAt]
	}
	return ""
}
