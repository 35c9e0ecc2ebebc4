/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Restore (spec.database.managed.restoreFrom or
// spec.database.cloudNativePG.restoreFrom) fills a new instance from a
// backup: a Job runs `contract-lucidity restore` once the database is up
// and before the first migration Job, which waits for it. The decision is
// taken once, while the instance is new, and recorded in status.restore:
// over data that exists it never restores (`restore` itself also refuses
// a database with tables or a storage volume with files).

// restoreFrom is the instance's restoreFrom, or nil.
func restoreFrom(cl *clv1.ContractLucidity) *clv1.RestoreFrom {
	if d := cl.Spec.Database; d != nil {
		if d.Managed != nil {
			return d.Managed.RestoreFrom
		}
		if d.CloudNativePG != nil {
			return d.CloudNativePG.RestoreFrom
		}
	}
	return nil
}

// RestoreJobName is the Job that restores backupID (a new id, a new Job).
func RestoreJobName(cl *clv1.ContractLucidity, backupID string) string {
	sum := sha256.Sum256([]byte(backupID))
	return Name(cl, "restore-"+hex.EncodeToString(sum[:])[:8])
}

// BuildRestoreJob restores restoreFrom with the image of version (the
// restore migrates the backup forward to that version's schema, so the
// migration Job that follows has nothing left to do).
func BuildRestoreJob(cl *clv1.ContractLucidity, version string) *batchv1.Job {
	rf := restoreFrom(cl)
	res := resources("100m", "128Mi", "512Mi")
	if b := cl.Spec.Backup; b != nil && !isEmptyResources(b.Resources) {
		res = b.Resources
	}
	c := jobContainer(cl, ComponentRestore, version, res, rf.Source, true,
		"restore", "--from", destinationURL(rf.Source), "--backup", rf.BackupID, "--termination-log", terminationLog)
	meta := objectMeta(cl, RestoreJobName(cl, rf.BackupID), ComponentRestore, true)
	meta.Annotations = map[string]string{AnnotationVersion: version}
	return &batchv1.Job{
		TypeMeta:   typeMeta("batch/v1", "Job"),
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](2),
			ActiveDeadlineSeconds:   ptr.To[int64](24 * 3600),
			TTLSecondsAfterFinished: ptr.To[int32](7 * 24 * 3600),
			Template:                jobPodTemplate(cl, ComponentRestore, c, rf.Source, true),
		},
	}
}

// DecideRestore is taken when restoreFrom first names a backup: restore
// only into an instance without data. priorData reports data that
// predates the instance (a retained database volume or Cluster).
func DecideRestore(st *clv1.ContractLucidityStatus, backupID string, priorData bool) (clv1.RestorePhase, string) {
	switch {
	case st.Restore != nil && st.Restore.Phase == clv1.RestoreSucceeded:
		return clv1.RestoreSkipped, fmt.Sprintf("restoreFrom.backupID %s is ignored: the instance was restored from %s and holds data; "+
			"restore into a new instance instead", backupID, st.Restore.BackupID)
	case st.MigratedVersion != "":
		return clv1.RestoreSkipped, fmt.Sprintf("restoreFrom (backup %s) is ignored: the database was already migrated to version %s "+
			"and holds data, which a restore never overwrites; restore into a new instance instead", backupID, st.MigratedVersion)
	case priorData:
		return clv1.RestoreSkipped, fmt.Sprintf("restoreFrom (backup %s) is ignored: the instance found a database volume that existed "+
			"before it (data kept from an earlier instance of this name), which a restore never overwrites; restore into a new instance instead", backupID)
	}
	return clv1.RestorePending, fmt.Sprintf("backup %s is restored before the first migration", backupID)
}

// reconcileRestore runs the restore Job and holds the migrations until it
// succeeded. It comes after the database step (it waits for DatabaseReady).
func (r *ContractLucidityReconciler) reconcileRestore(ctx context.Context, s *state) error {
	rf := restoreFrom(s.d)
	if rf == nil {
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionRestored)
		return nil
	}
	if st := s.status.Restore; st == nil || st.BackupID != rf.BackupID {
		prior, err := r.priorData(ctx, s)
		if err != nil {
			return err
		}
		phase, msg := DecideRestore(&s.status, rf.BackupID, prior)
		s.status.Restore = &clv1.RestoreStatus{BackupID: rf.BackupID, Phase: phase, Message: msg}
		if phase == clv1.RestoreSkipped {
			r.Recorder.Eventf(s.cl, nil, corev1.EventTypeWarning, clv1.ReasonRestoreSkipped, "Restore", "%s", msg)
		}
	}
	st := s.status.Restore
	switch st.Phase {
	case clv1.RestoreSkipped:
		s.condition(clv1.ConditionRestored, false, clv1.ReasonRestoreSkipped, st.Message)
		return nil
	case clv1.RestoreSucceeded:
		s.condition(clv1.ConditionRestored, true, "Restored", st.Message)
		return nil
	}
	// Until it succeeded, the first migration waits (it would create the
	// tables the restore needs absent).
	ownWait := s.migrationsWait == ""
	if ownWait {
		s.migrationsWait = fmt.Sprintf("waits for the restore of backup %s (condition %s)", rf.BackupID, clv1.ConditionRestored)
	}
	if !meta.IsStatusConditionTrue(s.status.Conditions, clv1.ConditionDatabaseReady) {
		s.condition(clv1.ConditionRestored, false, "WaitingForDatabase", fmt.Sprintf("backup %s is restored once the database is ready", rf.BackupID))
		return nil
	}
	if msg, err := r.checkDestinationSecrets(ctx, s, rf.Source); err != nil || msg != "" {
		if err == nil {
			s.condition(clv1.ConditionRestored, false, "CredentialsMissing", msg)
		}
		return err
	}
	job := BuildRestoreJob(s.d, s.d.Spec.Version)
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live)
	if isNotFound(err) {
		if err := r.apply(ctx, job); err != nil {
			return err
		}
		r.Recorder.Eventf(s.cl, job, corev1.EventTypeNormal, "RestoreStarted", "Restore", "restoring backup %s from %s (Job %s)",
			rf.BackupID, destinationURL(rf.Source), job.Name)
		st.Phase, st.Message = clv1.RestoreRunning, fmt.Sprintf("Job %s restores backup %s", job.Name, rf.BackupID)
		s.condition(clv1.ConditionRestored, false, clv1.ReasonRestoring, st.Message)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get job %s: %w", job.Name, err)
	}
	switch MigrationJobState(live) {
	case JobSucceeded:
		var out struct {
			Migrated []string `json:"migrated"`
		}
		if msg, ok, err := r.terminationMessage(ctx, live, ComponentRestore, true); err != nil {
			return err
		} else if ok {
			_ = json.Unmarshal([]byte(msg), &out)
		}
		st.Phase, st.CompletionTime = clv1.RestoreSucceeded, live.Status.CompletionTime
		st.Message = fmt.Sprintf("restored backup %s from %s", rf.BackupID, destinationURL(rf.Source))
		if len(out.Migrated) > 0 {
			st.Message += "; then migrated: " + strings.Join(out.Migrated, ", ")
		}
		r.Recorder.Eventf(s.cl, live, corev1.EventTypeNormal, "Restored", "Restore", "%s", st.Message)
		s.condition(clv1.ConditionRestored, true, "Restored", st.Message)
		if ownWait {
			s.migrationsWait = ""
		}
	case JobFailed:
		if st.Phase != clv1.RestoreFailed { // recorded once (the pods are read uncached)
			reason := jobFailure(live)
			if msg, ok, err := r.terminationMessage(ctx, live, ComponentRestore, false); err != nil {
				return err
			} else if ok {
				reason = failureText(msg)
			}
			st.Phase, st.Message = clv1.RestoreFailed, fmt.Sprintf("restore Job %s of backup %s failed: %s. Nothing was written (a restore is one transaction); "+
				"fix the cause, then delete the Job to retry, or correct restoreFrom", live.Name, rf.BackupID, reason)
			r.Recorder.Eventf(s.cl, live, corev1.EventTypeWarning, clv1.ReasonRestoreFailed, "Restore", "%s", st.Message)
		}
		s.condition(clv1.ConditionRestored, false, clv1.ReasonRestoreFailed, st.Message)
		s.warning = &stepError{reason: clv1.ReasonRestoreFailed, message: st.Message}
	default:
		st.Phase, st.Message = clv1.RestoreRunning, fmt.Sprintf("Job %s restores backup %s", live.Name, rf.BackupID)
		s.condition(clv1.ConditionRestored, false, clv1.ReasonRestoring, st.Message)
	}
	return nil
}

// priorData reports a database that predates the instance: the managed
// database's volume, or the CloudNativePG Cluster, created before the
// resource (both outlive a deleted instance). Those the instance created
// itself are new and empty until the restore.
func (r *ContractLucidityReconciler) priorData(ctx context.Context, s *state) (bool, error) {
	var obj client.Object
	var key client.ObjectKey
	switch {
	case s.d.Spec.Database.Managed != nil:
		obj, key = &corev1.PersistentVolumeClaim{}, client.ObjectKey{Namespace: s.cl.Namespace, Name: "data-" + Name(s.cl, ComponentPostgres) + "-0"}
	case s.d.Spec.Database.CloudNativePG != nil:
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(CloudNativePGClusterGVK)
		obj, key = u, client.ObjectKey{Namespace: s.cl.Namespace, Name: CloudNativePGClusterName(s.cl)}
	default:
		return false, nil
	}
	err := r.APIReader.Get(ctx, key, obj)
	switch {
	case isNotFound(err) || meta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get %s: %w", key.Name, err)
	}
	created := obj.GetCreationTimestamp()
	return created.Before(&s.cl.CreationTimestamp), nil
}

// terminationMessage reads the termination message of container in the
// Job's pods: of the succeeded pod, or of the last failed one.
func (r *ContractLucidityReconciler) terminationMessage(ctx context.Context, job *batchv1.Job, container string, succeeded bool) (string, bool, error) {
	if job.Spec.Selector == nil {
		return "", false, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return "", false, nil
	}
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return "", false, fmt.Errorf("list pods of Job %s: %w", job.Name, err)
	}
	var best *corev1.ContainerStateTerminated
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			t := c.State.Terminated
			if c.Name != container || t == nil || (t.ExitCode == 0) != succeeded {
				continue
			}
			if best == nil || best.FinishedAt.Before(&t.FinishedAt) {
				best = t
			}
		}
	}
	if best == nil || best.Message == "" {
		return "", false, nil
	}
	return best.Message, true, nil
}

// failureText is the error of a failed command's termination message (its
// JSON), or the message itself (the end of the log after a crash).
func failureText(msg string) string {
	var out struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(msg), &out) == nil && out.Error != "" {
		return out.Error
	}
	return strings.TrimSpace(msg)
}

// jobFailure is the Job controller's reason for a failed Job.
func jobFailure(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			if c.Message != "" {
				return c.Reason + ": " + c.Message
			}
			return c.Reason
		}
	}
	return "the Job failed"
}

// checkDestinationSecrets reports a missing S3 credentials or CA Secret
// (or key) of d: its pods would wait forever to start.
func (r *ContractLucidityReconciler) checkDestinationSecrets(ctx context.Context, s *state, d clv1.BackupDestination) (string, error) {
	for _, k := range destinationSecrets(d) {
		sec := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: k.Name}, sec)
		if isNotFound(err) {
			return fmt.Sprintf("Secret %q (key %q) for the S3 destination does not exist in namespace %s: create it", k.Name, k.Key, s.cl.Namespace), nil
		}
		if err != nil {
			return "", fmt.Errorf("read secret %s: %w", k.Name, err)
		}
		if len(sec.Data[k.Key]) == 0 {
			return fmt.Sprintf("Secret %q has no key %q for the S3 destination: add it", k.Name, k.Key), nil
		}
	}
	return "", nil
}
