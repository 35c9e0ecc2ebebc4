/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// ReencryptJobName is the Job of the encryption key rotation that started at started.
func ReencryptJobName(cl *clv1.ContractLucidity, started time.Time) string {
	return Name(cl, "reencrypt-"+versionSlug(started.UTC().Format(time.RFC3339)))
}

// BuildReencryptJob runs `contract-lucidity reencrypt` of version once:
// it rewrites every stored AI provider key with ENCRYPTION_KEY (the new
// key), opening them with it or ENCRYPTION_PREVIOUS_KEYS (the old one). It
// is a database maintenance Job like the migration: the same identity and
// network access (component label migrate: PostgreSQL only).
func BuildReencryptJob(cl *clv1.ContractLucidity, version string, started time.Time) *batchv1.Job {
	c := appContainer(cl, ComponentMigrate, version, componentResources(ComponentMigrate))
	c.Name = "reencrypt"
	c.Args = []string{"reencrypt"}
	c.Env = append(c.Env,
		secretEnv("ENCRYPTION_KEY", encryptionKey(cl), false),
		secretEnv("ENCRYPTION_PREVIOUS_KEYS", SecretKey{Name(cl, "encryption"), SecretKeyEncryptionPrevious}, true))
	ps := appPodSpec(cl, ComponentMigrate, c)
	ps.RestartPolicy = corev1.RestartPolicyNever
	ps.NodeSelector = cl.Spec.Backend.NodeSelector
	ps.Tolerations = cl.Spec.Backend.Tolerations
	meta := objectMeta(cl, ReencryptJobName(cl, started), ComponentMigrate, true)
	meta.Annotations = map[string]string{AnnotationVersion: version}
	return &batchv1.Job{
		TypeMeta:   typeMeta("batch/v1", "Job"),
		ObjectMeta: meta,
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To[int32](4),
			ActiveDeadlineSeconds:   ptr.To[int64](1800),
			TTLSecondsAfterFinished: ptr.To[int32](7 * 24 * 3600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, ComponentMigrate), Annotations: map[string]string{AnnotationVersion: version}},
				Spec:       ps,
			},
		},
	}
}
