/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Rotation on request (annotation contractlucidity.io/rotate): a generated
// Secret's value is replaced without a failed request. Every phase first
// writes the Secret (with a rotation-phase key naming the phase its values
// belong to, so a restarted operator resumes from the Secret itself), then
// waits until every consumer runs with it and, for the managed servers,
// until the server's helper container applied it:
//
//   - Staged: the new value is accepted but not used (JWT verify-only key,
//     decrypt-only encryption key, database fallback password, a second
//     Redis password on the server).
//   - Promoted: the new value is used and the old one still accepted; for
//     the database the credentials container sets it on the roles now; for
//     JWT the old key stays until the tokens it signed expired.
//   - Reencrypting (encryption only): a Job rewrites every stored AI
//     provider key with the new key.
//   - Completing: the old value is removed.

// rotationDone is the step after the last phase; it is never recorded.
const rotationDone clv1.RotationPhase = "Done"

// DefaultSecretPropagation is how long a changed Secret or ConfigMap may
// take to reach a running pod's volume (the kubelet's sync period plus its
// cache) before a helper container's readiness is believed to describe it.
const DefaultSecretPropagation = 90 * time.Second

// tokenExpiryMargin is added to the access token lifetime before a
// rotated-out JWT key is dropped (clock skew, the backend's leeway).
const tokenExpiryMargin = time.Minute

// RotationKind describes how one generated Secret rotates.
type RotationKind struct {
	Kind   clv1.SecretKind
	Secret string
	// CurrentKey is the value in use; OtherKey holds the other value
	// during a rotation (the new one while staged, the old one once
	// promoted).
	CurrentKey, OtherKey string
	Generate             func(io.Reader) (string, error)
	// Also are keys that get new values when the new value is promoted,
	// without staging: only the server's helper reads them.
	Also []GeneratedKey
	// Consumers are the components whose pods read the Secret.
	Consumers []string
	// Helper is the server component whose helper container applies the
	// change, in the phases HelperPhases, before the rotation moves on.
	Helper, HelperContainer string
	HelperPhases            []clv1.RotationPhase
	// Reencrypt runs the re-encryption Job after the promoted rollout.
	Reencrypt bool
	// Hold is how long the promoted value must have been rolled out
	// before the old one is removed.
	Hold time.Duration
}

// RotationKinds are the kinds cl can rotate: its generated Secrets,
// except the one-time admin password.
func RotationKinds(cl *clv1.ContractLucidity) []RotationKind {
	var out []RotationKind
	if cl.Spec.Auth.JWTSecretRef == nil {
		out = append(out, RotationKind{Kind: clv1.SecretKindJWT, Secret: Name(cl, "jwt"),
			CurrentKey: SecretKeyJWT, OtherKey: SecretKeyJWTPrevious, Generate: randomHex(64),
			Consumers: []string{ComponentBackend}, Hold: cl.Spec.Auth.AccessTokenTTL.Duration + tokenExpiryMargin})
	}
	if cl.Spec.Auth.EncryptionKeySecretRef == nil {
		out = append(out, RotationKind{Kind: clv1.SecretKindEncryption, Secret: Name(cl, "encryption"),
			CurrentKey: SecretKeyEncryption, OtherKey: SecretKeyEncryptionPrevious, Generate: randomHex(32),
			Consumers: []string{ComponentBackend, ComponentWorker}, Reencrypt: true})
	}
	if cl.Spec.Database.Managed != nil {
		out = append(out, RotationKind{Kind: clv1.SecretKindDatabase, Secret: Name(cl, "postgres"),
			CurrentKey: SecretKeyPGPassword, OtherKey: SecretKeyFallbackPassword, Generate: randomAlnum(40),
			Also:      []GeneratedKey{{SecretKeyPGSuperuser, randomAlnum(40)}},
			Consumers: []string{ComponentBackend, ComponentWorker},
			Helper:    ComponentPostgres, HelperContainer: ContainerPostgresCredentials,
			HelperPhases: []clv1.RotationPhase{clv1.RotationPromoted}})
	}
	if cl.Spec.Redis.Managed != nil {
		out = append(out, RotationKind{Kind: clv1.SecretKindRedis, Secret: Name(cl, "redis"),
			CurrentKey: SecretKeyRedisPassword, OtherKey: SecretKeyFallbackPassword, Generate: randomAlnum(40),
			Consumers: []string{ComponentBackend, ComponentWorker},
			Helper:    ComponentRedis, HelperContainer: ContainerRedisACL,
			HelperPhases: []clv1.RotationPhase{clv1.RotationStaged, clv1.RotationCompleting}})
	}
	return out
}

// RotationRefusal says why kind cannot be rotated in cl, or "".
func RotationRefusal(cl *clv1.ContractLucidity, kind clv1.SecretKind) string {
	const how = "see README \"Secrets: loss and rotation\""
	switch {
	case kind == clv1.SecretKindJWT && cl.Spec.Auth.JWTSecretRef != nil:
		return fmt.Sprintf("jwt: spec.auth.jwtSecretRef names your own Secret %q, which the operator does not change: "+
			"put the new key in it and pass the old one as JWT_PREVIOUS_SECRET_KEYS (spec.backend.env) until the access tokens it signed expired (%s)",
			cl.Spec.Auth.JWTSecretRef.Name, how)
	case kind == clv1.SecretKindEncryption && cl.Spec.Auth.EncryptionKeySecretRef != nil:
		return fmt.Sprintf("encryption: spec.auth.encryptionKeySecretRef names your own Secret %q, which the operator does not change: "+
			"put the new key in it, pass the old one as ENCRYPTION_PREVIOUS_KEYS (spec.backend.env and spec.worker.env) and run contract-lucidity reencrypt (%s)",
			cl.Spec.Auth.EncryptionKeySecretRef.Name, how)
	case kind == clv1.SecretKindDatabase && cl.Spec.Database.External != nil:
		return fmt.Sprintf("database: the external database's password is yours: change it on your server and in Secret %q, "+
			"passing the other one as POSTGRES_PASSWORD_FALLBACK (spec.backend.env and spec.worker.env) meanwhile (%s)",
			cl.Spec.Database.External.SecretRef.Name, how)
	case kind == clv1.SecretKindRedis && cl.Spec.Redis.External != nil:
		return fmt.Sprintf("redis: the external Redis' password is yours: change it on your server and in Secret %q (%s)",
			cl.Spec.Redis.External.SecretRef.Name, how)
	case kind == clv1.SecretKindAdmin:
		return "admin: the first administrator's password is a one-time password, changed at the first sign-in; an administrator resets passwords in the application"
	}
	return ""
}

// RotationFacts are what the operator observed about one rotation.
type RotationFacts struct {
	// Phase is the phase in progress ("" for none).
	Phase clv1.RotationPhase
	// Requested: the rotate annotation asks for a rotation not handled yet.
	Requested bool
	// RolledOut: every consumer runs with the Secret as it is now, for
	// RolledOutFor.
	RolledOut    bool
	RolledOutFor time.Duration
	// HelperApplied: the server's helper applied the current phase's change.
	HelperApplied bool
	// Job is the state of the re-encryption Job (Reencrypting only).
	Job JobState
}

// NextRotationPhase decides a rotation's step: the phase to enter
// (rotationDone to finish), or "" and what it waits for.
func NextRotationPhase(k RotationKind, f RotationFacts) (next clv1.RotationPhase, waiting string) {
	consumers := strings.Join(k.Consumers, " and ")
	switch f.Phase {
	case "":
		if f.Requested {
			return clv1.RotationStaged, ""
		}
		return "", ""
	case clv1.RotationReencrypting:
		switch f.Job {
		case JobSucceeded:
			return clv1.RotationCompleting, ""
		case JobFailed:
			return "", "the re-encryption Job failed: read its logs (a stored key that opens with neither key is named there), fix, then delete the Job to run it again"
		}
		return "", "the re-encryption Job to rewrite the stored AI provider keys with the new key"
	}
	if !f.RolledOut {
		return "", fmt.Sprintf("%s to roll out with the %s values", consumers, strings.ToLower(string(f.Phase)))
	}
	if slices.Contains(k.HelperPhases, f.Phase) && !f.HelperApplied {
		return "", fmt.Sprintf("the %s container of %s to apply the %s values", k.HelperContainer, k.Helper, strings.ToLower(string(f.Phase)))
	}
	switch f.Phase {
	case clv1.RotationStaged:
		return clv1.RotationPromoted, ""
	case clv1.RotationPromoted:
		if f.RolledOutFor < k.Hold {
			return "", fmt.Sprintf("the access tokens signed with the old key to expire (%s more)", (k.Hold - f.RolledOutFor).Round(time.Second))
		}
		if k.Reencrypt {
			return clv1.RotationReencrypting, ""
		}
		return clv1.RotationCompleting, ""
	}
	return rotationDone, ""
}

// currentRotationPhase is the phase of a rotation from the Secret's
// rotation-phase key (written with the values) and the status: without
// the key but with a rotation in the status, the old value was removed.
func currentRotationPhase(marker string, st *clv1.RotationStatus) clv1.RotationPhase {
	switch {
	case marker == string(clv1.RotationPromoted) && st != nil && st.Phase == clv1.RotationReencrypting:
		return clv1.RotationReencrypting // recorded in the status only: no consumer reads it
	case marker != "":
		return clv1.RotationPhase(marker)
	case st != nil:
		return clv1.RotationCompleting
	}
	return ""
}

// reconcileRotation drives the requested rotations one step per
// reconcile; it runs after every other step, whose conditions say whether
// the consumers rolled out.
func (r *ContractLucidityReconciler) reconcileRotation(ctx context.Context, s *state) error {
	requested, unknown := ParseSecretKinds(s.cl.Annotations[clv1.AnnotationRotate])
	var refused, progress []string
	for _, u := range unknown {
		refused = append(refused, fmt.Sprintf("%q is not a secret kind (jwt, encryption, database, redis)", u))
	}
	for _, k := range requested {
		if msg := RotationRefusal(s.d, k); msg != "" {
			refused = append(refused, msg)
		}
	}
	for _, k := range RotationKinds(s.d) {
		e := secretStatus(&s.status, k.Kind)
		if e == nil {
			continue
		}
		start := slices.Contains(requested, k.Kind) && !e.RotationRequestHandled
		if !start && e.Rotation == nil && s.secretValues[k.Secret+"/"+SecretKeyRotationPhase] == "" {
			continue
		}
		msg, err := r.rotate(ctx, s, k, e, slices.Contains(requested, k.Kind), start)
		if err != nil {
			return err
		}
		if msg != "" {
			progress = append(progress, msg)
		}
	}
	r.rotationCondition(s, requested, refused, progress)
	return nil
}

// rotate takes one step of kind k's rotation and says where it stands.
func (r *ContractLucidityReconciler) rotate(ctx context.Context, s *state, k RotationKind, e *clv1.SecretStatus, listed, start bool) (string, error) {
	// The consumers' rollout was judged by hashes of the cached Secret:
	// act only when it is the live one.
	live := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: k.Secret}, live); err != nil {
		return "", fmt.Errorf("get secret %s: %w", k.Secret, err)
	}
	if live.ResourceVersion != s.secretVersions[k.Secret] {
		s.requeue(time.Second)
		return fmt.Sprintf("%s: reading the latest Secret %s", k.Kind, k.Secret), nil
	}
	now := metav1.Now()
	phase := currentRotationPhase(string(live.Data[SecretKeyRotationPhase]), e.Rotation)
	switch {
	case phase == "":
	case e.Rotation == nil:
		// A rotation the status does not know (its write was lost, or is
		// not in the cache yet): its clocks start now.
		e.Rotation = &clv1.RotationStatus{Phase: phase, StartedAt: now, PhaseStartedAt: now}
	case e.Rotation.Phase != phase:
		e.Rotation.Phase, e.Rotation.PhaseStartedAt, e.Rotation.RolledOutAt = phase, now, nil
	}
	if phase != "" && listed {
		// The request is being handled, whatever an older status says.
		e.RotationRequestHandled = true
	}
	f := RotationFacts{Phase: phase, Requested: start}
	if phase != "" {
		f.RolledOut = s.rolledOut(k.Consumers)
		if f.RolledOut && e.Rotation.RolledOutAt == nil {
			e.Rotation.RolledOutAt = &now
		}
		if e.Rotation.RolledOutAt != nil {
			f.RolledOutFor = now.Sub(e.Rotation.RolledOutAt.Time)
		}
		if slices.Contains(k.HelperPhases, phase) {
			applied, err := r.helperApplied(ctx, s, k, e.Rotation.PhaseStartedAt.Time)
			if err != nil {
				return "", err
			}
			f.HelperApplied = applied
		}
		if phase == clv1.RotationReencrypting {
			state, err := r.reencrypt(ctx, s, e.Rotation.StartedAt.Time)
			if err != nil {
				return "", err
			}
			f.Job = state
		}
	}
	next, waiting := NextRotationPhase(k, f)
	if next == "" {
		if e.Rotation == nil {
			return "", nil
		}
		e.Rotation.Waiting = waiting
		// Helper readiness and expiry are not watched: look again.
		s.requeue(5 * time.Second)
		return fmt.Sprintf("%s: %s, waiting for %s", k.Kind, phase, waiting), nil
	}
	if err := r.enterRotationPhase(ctx, s, k, e, live, next); err != nil {
		return "", err
	}
	if next == rotationDone {
		return "", nil
	}
	return fmt.Sprintf("%s: %s", k.Kind, next), nil
}

// enterRotationPhase writes phase next's values to the Secret (with
// optimistic locking: it was read as the cache saw it) and records it.
func (r *ContractLucidityReconciler) enterRotationPhase(ctx context.Context, s *state, k RotationKind, e *clv1.SecretStatus, live *corev1.Secret, next clv1.RotationPhase) error {
	patch := client.MergeFromWithOptions(live.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if live.Data == nil {
		live.Data = map[string][]byte{}
	}
	d := live.Data
	if next == clv1.RotationPromoted && len(d[k.OtherKey]) == 0 {
		next = clv1.RotationStaged // the staged value was removed by hand: stage a new one
	}
	changed := true
	switch next {
	case clv1.RotationStaged:
		v, err := k.Generate(r.Rand)
		if err != nil {
			return err
		}
		d[k.OtherKey] = []byte(v)
	case clv1.RotationPromoted:
		d[k.CurrentKey], d[k.OtherKey] = d[k.OtherKey], d[k.CurrentKey]
		for _, a := range k.Also {
			v, err := a.Generate(r.Rand)
			if err != nil {
				return err
			}
			d[a.Key] = []byte(v)
		}
	case clv1.RotationCompleting:
		delete(d, k.OtherKey)
		delete(d, SecretKeyRotationPhase)
	case clv1.RotationReencrypting:
		if _, err := r.reencrypt(ctx, s, e.Rotation.StartedAt.Time); err != nil {
			return err
		}
		changed = false
	default: // done
		changed = false
	}
	if next == clv1.RotationStaged || next == clv1.RotationPromoted {
		d[SecretKeyRotationPhase] = []byte(next)
	}
	if changed {
		if err := r.Client.Patch(ctx, live, patch, client.FieldOwner(FieldManager)); err != nil {
			return fmt.Errorf("write rotation phase %s to secret %s: %w", next, k.Secret, err)
		}
	}
	now := metav1.Now()
	switch next {
	case rotationDone:
		e.LastRotatedAt = &now
		e.Rotation = nil
	case clv1.RotationStaged:
		e.RotationRequestHandled = true
		started := now
		if e.Rotation != nil {
			started = e.Rotation.StartedAt
		}
		e.Rotation = &clv1.RotationStatus{Phase: next, StartedAt: started, PhaseStartedAt: now}
	default:
		e.Rotation.Phase, e.Rotation.PhaseStartedAt, e.Rotation.RolledOutAt, e.Rotation.Waiting = next, now, nil, ""
	}
	r.Recorder.Eventf(s.cl, live, corev1.EventTypeNormal, "SecretRotation", "Rotate", "%s", rotationEventNote(k, next))
	// A status change alone triggers no reconcile.
	s.requeue(time.Second)
	return nil
}

// rotationEventNote describes entering a phase.
func rotationEventNote(k RotationKind, next clv1.RotationPhase) string {
	switch next {
	case clv1.RotationStaged:
		return fmt.Sprintf("%s rotation started: the new value is staged in Secret %s (accepted, not used yet)", k.Kind, k.Secret)
	case clv1.RotationPromoted:
		return fmt.Sprintf("%s rotation: the new value is in use; the old one is still accepted", k.Kind)
	case clv1.RotationReencrypting:
		return fmt.Sprintf("%s rotation: re-encrypting the stored AI provider keys with the new key", k.Kind)
	case clv1.RotationCompleting:
		return fmt.Sprintf("%s rotation: the old value is removed from Secret %s", k.Kind, k.Secret)
	}
	return fmt.Sprintf("%s rotation completed", k.Kind)
}

// rolledOut reports whether every component's Deployment is rolled out
// with what this reconcile applied (its Ready condition).
func (s *state) rolledOut(components []string) bool {
	cond := map[string]string{ComponentBackend: clv1.ConditionBackendReady, ComponentWorker: clv1.ConditionWorkerReady}
	for _, c := range components {
		if !meta.IsStatusConditionTrue(s.status.Conditions, cond[c]) {
			return false
		}
	}
	return true
}

// helperApplied reports whether the helper container of every pod of the
// server is ready (it applied the files it sees) and the phase's change
// had time to reach those files.
func (r *ContractLucidityReconciler) helperApplied(ctx context.Context, s *state, k RotationKind, since time.Time) (bool, error) {
	if wait := r.secretPropagation() - time.Since(since); wait > 0 {
		s.requeue(wait)
		return false, nil
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(s.cl.Namespace), client.MatchingLabels(SelectorLabels(s.cl, k.Helper))); err != nil {
		return false, fmt.Errorf("list %s pods: %w", k.Helper, err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		n++
		i := slices.IndexFunc(p.Status.ContainerStatuses, func(c corev1.ContainerStatus) bool { return c.Name == k.HelperContainer })
		if i < 0 || !p.Status.ContainerStatuses[i].Ready {
			return false, nil
		}
	}
	return n > 0, nil
}

func (r *ContractLucidityReconciler) secretPropagation() time.Duration {
	if r.SecretPropagation > 0 {
		return r.SecretPropagation
	}
	return DefaultSecretPropagation
}

// reencrypt creates the re-encryption Job once and reports its state.
func (r *ContractLucidityReconciler) reencrypt(ctx context.Context, s *state, started time.Time) (JobState, error) {
	job := BuildReencryptJob(s.d, s.appVersion, started)
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live)
	if isNotFound(err) {
		if err := r.apply(ctx, job); err != nil {
			return "", err
		}
		return JobRunning, nil
	}
	if err != nil {
		return "", fmt.Errorf("get job %s: %w", job.Name, err)
	}
	return MigrationJobState(live), nil
}

// rotationCondition summarises the rotations in SecretsRotated.
func (r *ContractLucidityReconciler) rotationCondition(s *state, requested []clv1.SecretKind, refused, progress []string) {
	was := meta.FindStatusCondition(s.cl.Status.Conditions, clv1.ConditionSecretsRotated)
	switch {
	case len(refused) > 0:
		msg := strings.Join(append(refused, progress...), "; ")
		s.condition(clv1.ConditionSecretsRotated, false, clv1.ReasonRotationRefused, msg)
		if was == nil || was.Reason != clv1.ReasonRotationRefused || was.Message != msg {
			r.Recorder.Eventf(s.cl, nil, corev1.EventTypeWarning, clv1.ReasonRotationRefused, "Rotate", "%s", strings.Join(refused, "; "))
		}
	case len(progress) > 0:
		s.condition(clv1.ConditionSecretsRotated, false, clv1.ReasonRotating, strings.Join(progress, "; "))
	case len(requested) > 0 || was != nil:
		s.condition(clv1.ConditionSecretsRotated, true, clv1.ReasonRotated, "no rotation in progress; status.secrets[].lastRotatedAt records the last one of each kind")
	}
}
