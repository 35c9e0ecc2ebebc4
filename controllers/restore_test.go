/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

const restoreID = "20261129T101500Z-3f2a1b"

func withRestore(cl *clv1.ContractLucidity) {
	cl.Spec.Database.Managed.RestoreFrom = &clv1.RestoreFrom{BackupID: restoreID,
		Source: clv1.BackupDestination{PVC: &clv1.BackupPVC{ClaimName: "old-backups"}}}
}

// markPostgresReady plays the StatefulSet controller.
func markPostgresReady(t *testing.T, ns, name string) {
	t.Helper()
	sts := &appsv1.StatefulSet{}
	waitFor(t, sts, key(ns, name+"-postgres"), nil)
	setStatus(t, sts, func() {
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1}
	})
}

// absent fails unless the Job name does not exist.
func absent(t *testing.T, ns, name, why string) {
	t.Helper()
	if err := k8sClient.Get(ctx, key(ns, name), &batchv1.Job{}); err == nil {
		t.Fatalf("Job %s exists: %s", name, why)
	}
}

// restoreFrom on a new instance: the restore Job runs once the database is
// ready, and the migration Job is created only after it succeeded.
func TestRestoreRunsBeforeTheFirstMigration(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) { withRestore(cl) })
	migration := MigrationJobName(cl, cl.Spec.Version)
	restore := RestoreJobName(cl, restoreID)

	waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionFalse, "WaitingForDatabase")
	got := waitCondition(t, ns, cl.Name, clv1.ConditionMigrationsReady, metav1.ConditionFalse, "Waiting")
	if r := got.Status.Restore; r == nil || r.Phase != clv1.RestorePending || r.BackupID != restoreID {
		t.Fatalf("status.restore %+v", r)
	}
	job := &batchv1.Job{}
	absent(t, ns, migration, "the migration must wait for the restore")

	markPostgresReady(t, ns, cl.Name)
	waitFor(t, job, key(ns, restore), nil)
	waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionFalse, clv1.ReasonRestoring)
	c := job.Spec.Template.Spec.Containers[0]
	if want := []string{"restore", "--from", "/backups", "--backup", restoreID, "--termination-log", "/dev/termination-log"}; !slices.Equal(c.Args, want) {
		t.Errorf("restore args %q", c.Args)
	}
	ro := map[string]bool{}
	for _, m := range c.VolumeMounts {
		ro[m.Name] = m.ReadOnly
	}
	claims := map[string]string{}
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if ro["storage"] || !ro["backups"] || claims["backups"] != "old-backups" || claims["storage"] != cl.Name+"-storage" {
		t.Errorf("restore mounts (read-only) %v, claims %v", ro, claims)
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-restore"), nil)
	poke(t, ns, cl.Name, 2)
	absent(t, ns, migration, "the restore is still running")

	runJobPod(t, job, 0, `{"restored":"`+restoreID+`","migrated":["0007_reports.sql"]}`)
	markJobSucceeded(t, ns, restore)
	got = waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionTrue, "Restored")
	if r := got.Status.Restore; r.Phase != clv1.RestoreSucceeded || r.CompletionTime == nil || !strings.Contains(r.Message, "0007_reports.sql") {
		t.Errorf("status.restore %+v", r)
	}
	waitFor(t, &batchv1.Job{}, key(ns, migration), nil)
	findEvent(t, ns, cl.Name, "Restored", corev1.EventTypeNormal, restoreID)

	// Migrated: the data is initialised, the restore stays done.
	markJobSucceeded(t, ns, migration)
	waitCondition(t, ns, cl.Name, clv1.ConditionMigrationsReady, metav1.ConditionTrue, "Migrated")
	waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionTrue, "Restored")
}

// A failed restore: Degraded with the command's error, no migration.
func TestFailedRestoreHoldsTheMigration(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) { withRestore(cl) })
	markPostgresReady(t, ns, cl.Name)
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, RestoreJobName(cl, restoreID)), nil)
	runJobPod(t, job, 1, `{"error":"backup 20261129T101500Z-3f2a1b: data.tar.gz: sha256 mismatch"}`)
	markJobFailed(t, ns, job.Name)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionFalse, clv1.ReasonRestoreFailed)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionRestored); !strings.Contains(c.Message, "sha256 mismatch") {
		t.Errorf("message %q", c.Message)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonRestoreFailed)
	findEvent(t, ns, cl.Name, clv1.ReasonRestoreFailed, corev1.EventTypeWarning, "sha256 mismatch")
	poke(t, ns, cl.Name, 2)
	absent(t, ns, MigrationJobName(cl, cl.Spec.Version), "the restore failed")
}

// restoreFrom added to an instance that holds data is ignored, with a
// condition that says so: a restore never overwrites.
func TestRestoreFromIsIgnoredOnceTheDataIsInitialised(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	updateCL(t, ns, cl.Name, withRestore)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionFalse, clv1.ReasonRestoreSkipped)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionRestored); !strings.Contains(c.Message, "never overwrites") {
		t.Errorf("message %q", c.Message)
	}
	if r := got.Status.Restore; r == nil || r.Phase != clv1.RestoreSkipped {
		t.Errorf("status.restore %+v", r)
	}
	findEvent(t, ns, cl.Name, clv1.ReasonRestoreSkipped, corev1.EventTypeWarning, restoreID)
	markPostgresReady(t, ns, cl.Name)
	poke(t, ns, cl.Name, 2)
	absent(t, ns, RestoreJobName(cl, restoreID), "the data is initialised")
	if c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionDegraded); c.Status == metav1.ConditionTrue {
		t.Errorf("Degraded: %s", c.Message)
	}
}

// DecideRestore, the rule on its own.
func TestDecideRestore(t *testing.T) {
	cases := []struct {
		name  string
		st    clv1.ContractLucidityStatus
		prior bool
		want  clv1.RestorePhase
	}{
		{"new instance", clv1.ContractLucidityStatus{}, false, clv1.RestorePending},
		{"migrated", clv1.ContractLucidityStatus{MigratedVersion: "0.1.0"}, false, clv1.RestoreSkipped},
		{"a database volume older than the instance", clv1.ContractLucidityStatus{}, true, clv1.RestoreSkipped},
		{"restored from another backup", clv1.ContractLucidityStatus{Restore: &clv1.RestoreStatus{BackupID: "x", Phase: clv1.RestoreSucceeded}}, false, clv1.RestoreSkipped},
		{"a failed restore of another id may be corrected", clv1.ContractLucidityStatus{Restore: &clv1.RestoreStatus{BackupID: "x", Phase: clv1.RestoreFailed}}, false, clv1.RestorePending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, msg := DecideRestore(&c.st, restoreID, c.prior); got != c.want || msg == "" {
				t.Errorf("got %s (%q), want %s", got, msg, c.want)
			}
		})
	}
}

// A database volume kept from an earlier instance of the same name (created
// before this one): restoreFrom is skipped even though nothing migrated yet.
func TestRestoreSkipsARetainedDatabaseVolume(t *testing.T) {
	ns := newNamespace(t)
	old := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data-contract-lucidity-postgres-0"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: DefaultBackupPVCSize}}}}
	if err := k8sClient.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // creation timestamps have seconds
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) { withRestore(cl) })
	got := waitCondition(t, ns, cl.Name, clv1.ConditionRestored, metav1.ConditionFalse, clv1.ReasonRestoreSkipped)
	if r := got.Status.Restore; r == nil || !strings.Contains(r.Message, "existed before") {
		t.Fatalf("status.restore %+v", r)
	}
	markPostgresReady(t, ns, cl.Name)
	waitFor(t, &batchv1.Job{}, key(ns, MigrationJobName(cl, cl.Spec.Version)), func() error {
		if err := k8sClient.Get(ctx, key(ns, RestoreJobName(cl, restoreID)), &batchv1.Job{}); err == nil {
			return errors.New("a restore Job over the retained volume")
		}
		return nil
	})
}
