/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// MigrationJobName is the Job that migrates the database to version.
func MigrationJobName(cl *clv1.ContractLucidity, version string) string {
	return Name(cl, "migrate-"+versionSlug(version))
}

// BuildMigrationJob runs `contract-lucidity migrate` of version once. The
// backend and worker roll to version only after it succeeded. A Job's pod
// template is immutable, so it is created once and never re-applied.
func BuildMigrationJob(cl *clv1.ContractLucidity, version string) *batchv1.Job {
	c := appContainer(cl, ComponentMigrate, version, componentResources(ComponentMigrate))
	return databaseJob(cl, MigrationJobName(cl, version), version, c, 6)
}

// databaseJob is a database maintenance Job of version running c (a
// migrate-component container): the migration's identity and network
// access (PostgreSQL only), on the backend's nodes, run once.
func databaseJob(cl *clv1.ContractLucidity, name, version string, c corev1.Container, backoff int32) *batchv1.Job {
	ps := appPodSpec(cl, ComponentMigrate, c)
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.NodeSelector = cl.Spec.Backend.NodeSelector
	ps.Tolerations = cl.Spec.Backend.Tolerations
	meta := objectMeta(cl, name, ComponentMigrate, true)
	meta.Annotations = map[string]string{AnnotationVersion: version}
	return &batchv1.Job{
		TypeMeta:   typeMeta("batch/v1", "Job"),
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(backoff),
			ActiveDeadlineSeconds:   ptr.To[int64](1800),
			TTLSecondsAfterFinished: ptr.To[int32](7 * 24 * 3600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, ComponentMigrate), Annotations: map[string]string{AnnotationVersion: version}},
				Spec:       ps,
			},
		},
	}
}

// JobState is the outcome of a Job so far.
type JobState string

// Job states.
const (
	JobRunning   JobState = "Running"
	JobSucceeded JobState = "Succeeded"
	JobFailed    JobState = "Failed"
)

// MigrationJobState reads a Job's conditions.
func MigrationJobState(j *batchv1.Job) JobState {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return JobSucceeded
		case batchv1.JobFailed:
			return JobFailed
		}
	}
	return JobRunning
}
