/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
	"github.com/contract-lucidity/contract-lucidity/controllers/sidecars"
)

// The managed servers follow their Secrets without a restart: a helper
// container next to each server (same image, a script from a ConfigMap)
// applies the mounted Secret (PostgreSQL: ALTER ROLE over the local socket)
// or the mounted ACL file (Redis: ACL LOAD) whenever the kubelet updates
// the files. Its readiness says whether what it applied is what the files
// hold now; the operator reads it during a rotation.

// Helper container names.
const (
	ContainerPostgresCredentials = "credentials"
	ContainerRedisACL            = "acl"
)

// Keys of the scripts in the servers' ConfigMaps.
const (
	credentialsScriptKey = "credentials.sh"
	redisACLScriptKey    = "acl.sh"
)

// helperScriptDir is where a helper container mounts its script.
const helperScriptDir = "/opt/contract-lucidity"

// helperContainer runs script (mounted from the volume "helper-script") in
// image, ready when "script check" succeeds.
func helperContainer(name, image, scriptKey string, env []corev1.EnvVar, mounts ...corev1.VolumeMount) corev1.Container {
	script := helperScriptDir + "/" + scriptKey
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"sh", script, "run"},
		Env:             env,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: mib(16),
				corev1.ResourceEphemeralStorage: mib(16)},
			Limits: corev1.ResourceList{corev1.ResourceMemory: mib(64)},
		},
		SecurityContext: containerSecurity(),
		// Not ready only while a change is pending or cannot be applied;
		// three failures in a row, so the seconds between the kubelet's
		// update and the next poll do not count.
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", script, "check"}}},
			PeriodSeconds: 5, TimeoutSeconds: 5, FailureThreshold: 3,
		},
		VolumeMounts: append([]corev1.VolumeMount{
			{Name: "helper-script", MountPath: helperScriptDir, ReadOnly: true},
			{Name: "helper-tmp", MountPath: "/tmp"},
		}, mounts...),
	}
}

// helperVolumes are the script (one key of configMap) and the helper's /tmp.
func helperVolumes(configMap, scriptKey string) []corev1.Volume {
	return []corev1.Volume{
		{Name: "helper-script", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
			Items:                []corev1.KeyToPath{{Key: scriptKey, Path: scriptKey}},
			DefaultMode:          ptr.To[int32](0o555),
		}}},
		emptyDir("helper-tmp", ptr.To(mib(16))),
	}
}

// secretVolume mounts a generated Secret's files, readable by the pod's group only.
func secretVolume(name, secret string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, DefaultMode: ptr.To[int32](0o440)}}}
}

// postgresCredentialsContainer keeps the roles' passwords equal to the
// Secret <name>-postgres (sidecars/postgres-credentials.sh).
func postgresCredentialsContainer(cl *clv1.ContractLucidity) corev1.Container {
	return helperContainer(ContainerPostgresCredentials, cl.Spec.Database.Managed.Image, credentialsScriptKey,
		[]corev1.EnvVar{
			{Name: "CREDENTIALS_DIR", Value: "/etc/postgres-credentials"},
			{Name: "CREDENTIALS_STATE", Value: "/tmp/applied"},
			{Name: "PGSOCKET_DIR", Value: "/var/run/postgresql"},
			{Name: "POSTGRES_SUPERUSER", Value: "postgres"},
			{Name: "APP_DB_USER", Value: PostgresAppUser},
		},
		corev1.VolumeMount{Name: "credentials", MountPath: "/etc/postgres-credentials", ReadOnly: true},
		corev1.VolumeMount{Name: "run", MountPath: "/var/run/postgresql"},
	)
}

// redisACLContainer reloads users.acl into the running Redis (sidecars/redis-acl.sh).
func redisACLContainer(cl *clv1.ContractLucidity) corev1.Container {
	return helperContainer(ContainerRedisACL, cl.Spec.Redis.Managed.Image, redisACLScriptKey,
		[]corev1.EnvVar{
			{Name: "REDIS_ACL_FILE", Value: "/etc/redis/" + RedisACLFile},
			{Name: "REDIS_SECRET_DIR", Value: redisSecretDir},
			{Name: "ACL_STATE", Value: "/tmp/applied"},
		},
		corev1.VolumeMount{Name: "config", MountPath: "/etc/redis", ReadOnly: true},
		corev1.VolumeMount{Name: "password", MountPath: redisSecretDir, ReadOnly: true},
	)
}

// The helpers' scripts, in the servers' ConfigMaps.
var (
	postgresCredentialsScript = sidecars.PostgresCredentials
	redisACLScript            = sidecars.RedisACL
)

// redisPasswords are the passwords the managed Redis accepts: the Secret's
// password and, during a rotation, its fallback.
func redisPasswords(s *state) []string {
	n := Name(s.cl, "redis")
	return []string{s.secretValues[n+"/"+SecretKeyRedisPassword], s.secretValues[n+"/"+SecretKeyFallbackPassword]}
}
