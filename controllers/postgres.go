/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// postgresInitScript runs once, as the superuser, when the data directory is
// initialised: it creates the extensions (pgvector is not a trusted
// extension, so the application role could not) and an application role
// that is not a superuser and owns its database.
const postgresInitScript = `#!/bin/sh
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set app_user="$APP_DB_USER" --set app_password="$APP_DB_PASSWORD" --set app_db="$APP_DB_NAME" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE :"app_db" OWNER :"app_user";
\connect :"app_db"
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
ALTER SCHEMA public OWNER TO :"app_user";
SQL
`

// postgresInitScriptKey is the init script's key in <name>-postgres-init.
const postgresInitScriptKey = "10-contract-lucidity.sh"

// BuildPostgresInitConfigMap is <name>-postgres-init: the init script,
// mounted at /docker-entrypoint-initdb.d, and the credentials container's
// script (mounted elsewhere: the entrypoint runs every *.sh it finds there).
func BuildPostgresInitConfigMap(cl *clv1.ContractLucidity) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: objectMeta(cl, Name(cl, "postgres-init"), ComponentPostgres, true),
		Data:       map[string]string{postgresInitScriptKey: postgresInitScript, credentialsScriptKey: postgresCredentialsScript},
	}
}

// PostgresConfigHash is the hash on the PostgreSQL pod template: its
// scripts. The Secret is not part of it: PostgreSQL reads the passwords
// from its environment only when it initialises the data directory, and
// afterwards the credentials container applies a changed Secret without
// restarting the server.
func PostgresConfigHash() string {
	return ConfigHash(map[string]string{"init": postgresInitScript, "credentials": postgresCredentialsScript}, nil)
}

// BuildPostgresStatefulSet is the managed single-instance PostgreSQL.
// Its volumeClaimTemplate PVC is retained when the StatefulSet is deleted
// unless spec.deletionPolicy.deleteData is set.
func BuildPostgresStatefulSet(cl *clv1.ContractLucidity, configHash string) *appsv1.StatefulSet {
	m := cl.Spec.Database.Managed
	pgSecret := Name(cl, "postgres")
	exec := func(cmd ...string) corev1.ProbeHandler {
		return corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}
	}
	ready := exec("pg_isready", "-q", "-U", "postgres", "-h", "127.0.0.1", "-p", "5432", "-t", "4")
	// Alive while the server answers at all: pg_isready exits 1 while it
	// starts up or replays WAL after a crash (rejecting connections, not
	// ready), which must not get it killed and restarted; 2 is no answer.
	alive := exec("sh", "-c", `pg_isready -q -U postgres -h 127.0.0.1 -p 5432 -t 4; [ "$?" -le 1 ]`)
	c := corev1.Container{
		Name:            "postgres",
		Image:           m.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: "postgres", ContainerPort: PortPostgres, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "POSTGRES_USER", Value: "postgres"},
			secretEnv("POSTGRES_PASSWORD", SecretKey{pgSecret, SecretKeyPGSuperuser}, false),
			{Name: "POSTGRES_DB", Value: "postgres"},
			{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
			{Name: "APP_DB_USER", Value: PostgresAppUser},
			{Name: "APP_DB_NAME", Value: PostgresAppDB},
			secretEnv("APP_DB_PASSWORD", SecretKey{pgSecret, SecretKeyPGPassword}, false),
		},
		Resources:       withScratchRequest(m.Resources, scratchFor(cl, ComponentPostgres)),
		SecurityContext: containerSecurity(),
		StartupProbe:    &corev1.Probe{ProbeHandler: ready, PeriodSeconds: 5, FailureThreshold: 60, TimeoutSeconds: 5},
		LivenessProbe:   &corev1.Probe{ProbeHandler: alive, PeriodSeconds: 15, FailureThreshold: 4, TimeoutSeconds: 5},
		ReadinessProbe:  &corev1.Probe{ProbeHandler: ready, PeriodSeconds: 5, FailureThreshold: 3, TimeoutSeconds: 5},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "data", MountPath: "/var/lib/postgresql/data"},
			{Name: "init", MountPath: "/docker-entrypoint-initdb.d", ReadOnly: true},
			{Name: "run", MountPath: "/var/run/postgresql"},
			{Name: "tmp", MountPath: "/tmp"},
		},
	}
	retention := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if cl.Spec.DeletionPolicy.DeleteData {
		retention = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	labels := Labels(cl, ComponentPostgres)
	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: objectMeta(cl, Name(cl, ComponentPostgres), ComponentPostgres, true),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](1),
			ServiceName: Name(cl, "postgres-headless"),
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, ComponentPostgres)},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: retention,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationConfigHash: configHash}},
				Spec: corev1.PodSpec{
					ServiceAccountName:            Name(cl, ComponentPostgres),
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					SecurityContext:               podSecurity(PostgresUID),
					TerminationGracePeriodSeconds: ptr.To[int64](60),
					Containers:                    []corev1.Container{c, postgresCredentialsContainer(cl)},
					Volumes: append([]corev1.Volume{
						{Name: "init", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: Name(cl, "postgres-init")},
							Items:                []corev1.KeyToPath{{Key: postgresInitScriptKey, Path: postgresInitScriptKey}},
							DefaultMode:          ptr.To[int32](0o555),
						}}},
						emptyDir("run", ptr.To(mib(16))),
						emptyDir("tmp", ptr.To(scratchFor(cl, ComponentPostgres).limit)),
						secretVolume("credentials", pgSecret),
					}, helperVolumes(Name(cl, "postgres-init"), credentialsScriptKey)...),
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: labels},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: m.Storage.StorageClassName,
					Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: *m.Storage.Size},
					},
				},
			}},
		},
	}
}

// BuildPostgresServices are the ClusterIP Service the applications use and
// the headless Service that governs the StatefulSet.
func BuildPostgresServices(cl *clv1.ContractLucidity) []*corev1.Service {
	port := []corev1.ServicePort{{Name: "postgres", Port: PortPostgres, TargetPort: intstr.FromString("postgres"), Protocol: corev1.ProtocolTCP}}
	// The one pod stays behind the Service while it is not ready: the
	// credentials container's readiness (a password change pending) must
	// not cut the database off, and while PostgreSQL itself starts a
	// client is refused either way.
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(cl, Name(cl, ComponentPostgres), ComponentPostgres, true),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: SelectorLabels(cl, ComponentPostgres), Ports: port,
			PublishNotReadyAddresses: true},
	}
	headless := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(cl, Name(cl, "postgres-headless"), ComponentPostgres, true),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone,
			Selector: SelectorLabels(cl, ComponentPostgres), Ports: port, PublishNotReadyAddresses: true},
	}
	return []*corev1.Service{svc, headless}
}
