/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// The move from the volume to S3 on Kubernetes: with spec.storage.s3 set
// and the volume <name>-storage still there, the annotation
// contractlucidity.io/storage-migrate: "<token>" runs
// `contract-lucidity storage migrate --to s3` once per token in a Job that
// mounts the volume and reads the bucket's settings, under a
// NetworkPolicy that opens PostgreSQL and the store; a token
// "filesystem:<token>" copies the other way, back to the volume, before
// spec.storage.s3 is removed. The command is idempotent (copied files are
// verified and skipped), so a Job deleted while the annotation stays
// simply runs again.

// ComponentStorageMigrate is the storage migration Job's component.
const ComponentStorageMigrate = "storage-migrate"

// AnnotationStorageMigrate asks for one storage migration per value.
const AnnotationStorageMigrate = "contractlucidity.io/storage-migrate"

// StorageMigrateJobName is the Job of one token (a hash keeps the name short).
func StorageMigrateJobName(cl *clv1.ContractLucidity, token string) string {
	sum := sha256.Sum256([]byte(token))
	return Name(cl, "storage-migrate-"+hex.EncodeToString(sum[:])[:10])
}

// StorageMigrateTarget is where a token copies to: "s3", or "filesystem"
// for a token "filesystem:...".
func StorageMigrateTarget(token string) string {
	if strings.HasPrefix(token, "filesystem:") {
		return "filesystem"
	}
	return "s3"
}

// BuildStorageMigrateJob copies the volume's documents and reports into
// the bucket (or back) with the application at version. The volume is
// mounted writable: the filesystem store creates its directories when it
// opens.
func BuildStorageMigrateJob(cl *clv1.ContractLucidity, version, token string) *batchv1.Job {
	c := appContainer(cl, ComponentMigrate, version, componentResources(ComponentMigrate))
	c.Name = ComponentStorageMigrate
	c.Args = []string{"storage", "migrate", "--to", StorageMigrateTarget(token)}
	c.Env = append(append(c.Env, corev1.EnvVar{Name: "STORAGE_PATH", Value: StoragePath}), storageSecretEnv(cl)...)
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "storage", MountPath: StoragePath})
	ps := appPodSpec(cl, ComponentMigrate, c)
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.NodeSelector = cl.Spec.Backend.NodeSelector
	ps.Tolerations = cl.Spec.Backend.Tolerations
	ps.Volumes = append(ps.Volumes, corev1.Volume{Name: "storage", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: Name(cl, "storage")}}})
	if v, m := storageVolume(cl, false); v != nil {
		ps.Volumes = append(ps.Volumes, *v)
		ps.Containers[0].VolumeMounts = append(ps.Containers[0].VolumeMounts, *m)
	}
	meta := objectMeta(cl, StorageMigrateJobName(cl, token), ComponentStorageMigrate, true)
	meta.Annotations = map[string]string{AnnotationStorageMigrate: token, AnnotationVersion: version}
	return &batchv1.Job{
		TypeMeta:   typeMeta("batch/v1", "Job"),
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, ComponentStorageMigrate)},
				Spec:       ps,
			},
		},
	}
}

// reconcileStorageMigration runs after the database migrations (the Job
// runs the migrated version) and adds the Job's state to StorageReady.
func (r *ContractLucidityReconciler) reconcileStorageMigration(ctx context.Context, s *state) error {
	if !ObjectStorage(s.d) {
		return nil
	}
	m, err := r.storageMigration(ctx, s, s.volumeKept)
	if err != nil || m == "" {
		return err
	}
	c := meta.FindStatusCondition(s.status.Conditions, clv1.ConditionStorageReady)
	s.condition(clv1.ConditionStorageReady, true, clv1.ReasonObjectStorage, c.Message+m)
	return nil
}

// storageMigration runs the Job of the annotation's token and returns what
// the StorageReady condition says of it ("" without a token).
func (r *ContractLucidityReconciler) storageMigration(ctx context.Context, s *state, volume bool) (string, error) {
	token := s.cl.Annotations[AnnotationStorageMigrate]
	switch {
	case token == "":
		return "", nil
	case !volume:
		return fmt.Sprintf("; %s is set but there is no volume %s to copy from", AnnotationStorageMigrate, Name(s.cl, "storage")), nil
	case s.appVersion == "":
		return "; the storage migration waits for the first database migration", nil
	}
	job := BuildStorageMigrateJob(s.d, s.appVersion, token)
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live)
	if isNotFound(err) {
		// Jobs are immutable: create once, never re-apply.
		if err := r.apply(ctx, job); err != nil {
			return "", err
		}
		what := fmt.Sprintf("the volume %s into the bucket", Name(s.cl, "storage"))
		if StorageMigrateTarget(token) == "filesystem" {
			what = fmt.Sprintf("the bucket back into the volume %s", Name(s.cl, "storage"))
		}
		r.Recorder.Eventf(s.cl, job, corev1.EventTypeNormal, "StorageMigrationStarted", "MigrateStorage",
			"copying %s (Job %s)", what, job.Name)
		return "; storage migration Job " + job.Name + " is running", nil
	}
	if err != nil {
		return "", fmt.Errorf("get job %s: %w", job.Name, err)
	}
	switch MigrationJobState(live) {
	case JobSucceeded:
		return "; storage migration Job " + job.Name + " succeeded (its log lists what was copied and verified)", nil
	case JobFailed:
		s.warning = &stepError{reason: "StorageMigrationFailed", message: fmt.Sprintf(
			"storage migration Job %s failed: read its log (kubectl logs job/%s), fix, then delete the Job to run it again", job.Name, job.Name)}
		return "; storage migration Job " + job.Name + " failed", nil
	}
	return "; storage migration Job " + job.Name + " is running", nil
}
