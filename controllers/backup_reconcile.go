/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// The backup CronJob and its Jobs, the on-demand Jobs, and the pods'
// termination messages (read uncached, once per finished Job):
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// BackupResult is what the operator reads of the termination message
// `backup create --termination-log` writes (a test in
// services/cmd/contract-lucidity runs the real command with the CronJob's
// arguments and parses its output with ParseBackupResult).
type BackupResult struct {
	ID           string `json:"id"`
	Destination  string `json:"destination"`
	SizeBytes    int64  `json:"size_bytes"`
	FileProblems int    `json:"file_problems"`
	PrunedCount  int    `json:"pruned_count"`
	PruneError   string `json:"prune_error"`
	Error        string `json:"error"`
}

// ParseBackupResult reads a backup pod's termination message.
func ParseBackupResult(msg string) (BackupResult, error) {
	var r BackupResult
	err := json.Unmarshal([]byte(msg), &r)
	return r, err
}

// reconcileBackup applies the backup CronJob (and its volume), starts an
// on-demand backup for a new contractlucidity.io/backup-now token, and
// records the outcome of finished backup Jobs in status.backup, the
// BackupSucceeded condition and events. Backups run the version the
// database is migrated to, so they start after the first migration.
func (r *ContractLucidityReconciler) reconcileBackup(ctx context.Context, s *state) error {
	b := s.d.Spec.Backup
	if b == nil {
		if err := r.prune(ctx, s, &batchv1.CronJobList{}, ComponentBackup, nil); err != nil {
			return err
		}
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionBackupSucceeded)
		return nil
	}
	if pvc := BuildBackupPVC(s.d); pvc != nil {
		if err := r.apply(ctx, pvc); err != nil {
			return err
		}
	}
	if s.status.Backup == nil {
		s.status.Backup = &clv1.BackupStatus{}
	}
	if s.appVersion == "" {
		s.backupCondition(metav1.ConditionUnknown, clv1.ReasonNoBackupYet, "backups start after the first database migration")
		return nil
	}
	if err := r.apply(ctx, BuildBackupCronJob(s.d, s.appVersion)); err != nil {
		return err
	}
	if err := r.recordBackups(ctx, s); err != nil {
		return err
	}
	msg, err := r.checkDestinationSecrets(ctx, s, b.Destination)
	if err != nil {
		return err
	}
	if msg != "" {
		s.backupCondition(metav1.ConditionFalse, "CredentialsMissing", msg+"; until then no backup can run")
		return nil
	}
	return r.backupNow(ctx, s)
}

// backupNow creates the Job of a new backup-now token, once per token: the
// Job is named after the token and the token is recorded as handled.
func (r *ContractLucidityReconciler) backupNow(ctx context.Context, s *state) error {
	token := s.cl.Annotations[clv1.AnnotationBackupNow]
	if token == "" || token == s.status.Backup.OnDemandToken {
		return nil
	}
	job := BuildOnDemandBackupJob(s.d, s.appVersion, token)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), &batchv1.Job{})
	if isNotFound(err) {
		err = r.Client.Create(ctx, job, client.FieldOwner(FieldManager))
		if err == nil {
			r.Recorder.Eventf(s.cl, job, corev1.EventTypeNormal, "BackupStarted", "Backup",
				"backup asked for by %s=%q runs as Job %s", clv1.AnnotationBackupNow, token, job.Name)
		}
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create backup Job %s: %w", job.Name, err)
	}
	s.status.Backup.OnDemandToken = token
	return nil
}

// recordBackups copies the newest succeeded and the newest failed backup
// Job (scheduled or on demand) into status.backup when they finished after
// what it records, and sets BackupSucceeded from whichever is newer. A
// failure is a Warning event, once per failed Job.
func (r *ContractLucidityReconciler) recordBackups(ctx context.Context, s *state) error {
	jobs := &batchv1.JobList{}
	if err := r.Client.List(ctx, jobs, client.InNamespace(s.cl.Namespace), client.MatchingLabels{
		LabelInstance: s.cl.Name, LabelComponent: ComponentBackup, LabelManagedBy: ManagedBy}); err != nil {
		return fmt.Errorf("list backup Jobs: %w", err)
	}
	var okJob, failedJob *batchv1.Job
	var okAt, failedAt time.Time
	for i := range jobs.Items {
		j := &jobs.Items[i]
		t, state := jobFinished(j)
		switch {
		case state == JobSucceeded && (okJob == nil || t.After(okAt)):
			okJob, okAt = j, t
		case state == JobFailed && (failedJob == nil || t.After(failedAt)):
			failedJob, failedAt = j, t
		}
	}
	st := s.status.Backup
	if okJob != nil && (st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Time.Before(okAt)) {
		var res BackupResult
		msg, ok, err := r.terminationMessage(ctx, okJob, ComponentBackup, true)
		if err != nil {
			return err
		}
		if ok {
			// Not JSON (the end of a log): the backup is recorded without details.
			res, _ = ParseBackupResult(msg)
		}
		st.LastSuccessfulTime, st.LastBackupID, st.LastSizeBytes = &metav1.Time{Time: okAt}, res.ID, res.SizeBytes
		r.Recorder.Eventf(s.cl, okJob, corev1.EventTypeNormal, clv1.ReasonBackupSucceeded, "Backup",
			"backup %s (%d bytes) written to %s by Job %s", orUnknown(res.ID), res.SizeBytes, orUnknown(res.Destination), okJob.Name)
		if res.FileProblems > 0 {
			r.Recorder.Eventf(s.cl, okJob, corev1.EventTypeWarning, "BackupFileProblems", "Backup",
				"backup %s is written, but %d stored files were missing or did not match their checksum: read the Job's log", res.ID, res.FileProblems)
		}
		if res.PruneError != "" {
			r.Recorder.Eventf(s.cl, okJob, corev1.EventTypeWarning, "BackupPruneFailed", "Backup",
				"backup %s is written, but deleting old backups failed: %s", res.ID, res.PruneError)
		}
	}
	if failedJob != nil && (st.LastFailureTime == nil || st.LastFailureTime.Time.Before(failedAt)) {
		reason := jobFailure(failedJob)
		msg, ok, err := r.terminationMessage(ctx, failedJob, ComponentBackup, false)
		if err != nil {
			return err
		}
		if ok {
			reason = failureText(msg)
		}
		st.LastFailureTime, st.LastFailureMessage = &metav1.Time{Time: failedAt}, fmt.Sprintf("Job %s: %s", failedJob.Name, reason)
		r.Recorder.Eventf(s.cl, failedJob, corev1.EventTypeWarning, clv1.ReasonBackupFailed, "Backup",
			"backup Job %s failed: %s", failedJob.Name, reason)
	}
	reason, status, message := BackupCondition(st)
	s.backupCondition(status, reason, message)
	return nil
}

// BackupCondition says whether the newest finished backup succeeded.
func BackupCondition(st *clv1.BackupStatus) (string, metav1.ConditionStatus, string) {
	last := "no backup has succeeded yet"
	if st.LastSuccessfulTime != nil {
		last = fmt.Sprintf("the last successful backup is %s (%d bytes, %s)", orUnknown(st.LastBackupID), st.LastSizeBytes,
			st.LastSuccessfulTime.UTC().Format(time.RFC3339))
	}
	switch {
	case st.LastFailureTime != nil && (st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Before(st.LastFailureTime)):
		return clv1.ReasonBackupFailed, metav1.ConditionFalse, fmt.Sprintf("the last backup failed at %s: %s; %s",
			st.LastFailureTime.UTC().Format(time.RFC3339), st.LastFailureMessage, last)
	case st.LastSuccessfulTime != nil:
		return clv1.ReasonBackupSucceeded, metav1.ConditionTrue, last
	}
	return clv1.ReasonNoBackupYet, metav1.ConditionUnknown, "no backup has finished yet"
}

// jobFinished is when a Job finished, and how.
func jobFinished(j *batchv1.Job) (time.Time, JobState) {
	state := MigrationJobState(j)
	if state == JobSucceeded && j.Status.CompletionTime != nil {
		return j.Status.CompletionTime.Time, state
	}
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return c.LastTransitionTime.Time, state
		}
	}
	return time.Time{}, state
}

func (s *state) backupCondition(status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&s.status.Conditions, metav1.Condition{
		Type: clv1.ConditionBackupSucceeded, Status: status, Reason: reason, Message: msg, ObservedGeneration: s.cl.Generation,
	})
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
