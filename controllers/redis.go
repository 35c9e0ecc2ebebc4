/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// RedisConfigFile and RedisACLFile are the managed Redis' configuration
// and users, mounted from the ConfigMap <name>-redis-config at /etc/redis.
const (
	RedisConfigFile = "redis.conf"
	RedisACLFile    = "users.acl"
)

// redisSecretDir is where the Redis pod mounts the Secret <name>-redis.
const redisSecretDir = "/etc/redis-secret"

// RedisACL is the users file: the default user with the SHA-256 of each
// password (Redis ACL "#<hex>"), so neither the file nor redis-server's
// command line (which any process on the node can read) carries a
// password, and the file can be a ConfigMap: the passwords are 40 random
// characters, out of reach of a brute force of their hashes. During a
// rotation it lists the old and the new password.
func RedisACL(passwords ...string) string {
	var b strings.Builder
	b.WriteString("user default on")
	for _, p := range passwords {
		if p == "" {
			continue
		}
		sum := sha256.Sum256([]byte(p))
		b.WriteString(" #" + hex.EncodeToString(sum[:]))
	}
	b.WriteString(" ~* &* +@all\n")
	return b.String()
}

// BuildRedisConfigMap is the managed Redis' configuration: redis.conf,
// users.acl with the hashes of passwords (see RedisACL) and the ACL
// container's script. The job stream is kept in an append-only file on an
// emptyDir.
func BuildRedisConfigMap(cl *clv1.ContractLucidity, passwords ...string) *corev1.ConfigMap {
	conf := "# Written by the contract-lucidity operator.\n" +
		"aclfile /etc/redis/" + RedisACLFile + "\n" +
		"appendonly yes\n" +
		"save \"\"\n"
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: objectMeta(cl, Name(cl, "redis-config"), ComponentRedis, true),
		Data:       map[string]string{RedisConfigFile: conf, RedisACLFile: RedisACL(passwords...), redisACLScriptKey: redisACLScript},
	}
}

// RedisConfigHash is the hash on the Redis pod template: redis.conf, the
// ACL container's script and when the Secret <name>-redis was generated
// anew after a loss (its new-values-accepted-at annotation). users.acl is
// not part of it: the ACL container loads a changed file into the running
// server (a rotation; a Secret restored from a copy changes nothing). New
// values accepted after a loss restart Redis: the running server knows no
// password of the new Secret to let the ACL container in.
func RedisConfigHash(conf *corev1.ConfigMap, acceptedAt string) string {
	return ConfigHash(map[string]string{RedisConfigFile: conf.Data[RedisConfigFile], redisACLScriptKey: conf.Data[redisACLScriptKey]},
		map[string]string{"new-values-accepted-at": acceptedAt})
}

// BuildRedisDeployment is the managed Redis: one replica, a password (from
// the generated Secret, see BuildRedisConfigMap), reachable only through
// its ClusterIP Service and only by backend and worker (NetworkPolicy). The
// documents table is the source of truth and the worker's sweep
// re-enqueues lost jobs.
func BuildRedisDeployment(cl *clv1.ContractLucidity, configHash string) *appsv1.Deployment {
	m := cl.Spec.Redis.Managed
	// redis-cli reads the password from REDISCLI_AUTH, set from the mounted
	// Secret (never an argument); it exits 0 on an error reply, so the
	// probe compares the answer.
	ping := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c",
		`[ "$(REDISCLI_AUTH="$(cat ` + redisSecretDir + `/password)" redis-cli ping)" = PONG ]`}}}
	c := corev1.Container{
		Name:            "redis",
		Image:           m.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"redis-server", "/etc/redis/" + RedisConfigFile, "--dir", "/data"},
		Ports:           []corev1.ContainerPort{{Name: "redis", ContainerPort: PortRedis, Protocol: corev1.ProtocolTCP}},
		Resources:       withScratchRequest(m.Resources, scratchFor(cl, ComponentRedis)),
		SecurityContext: containerSecurity(),
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("redis")}},
			PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 3},
		ReadinessProbe: &corev1.Probe{ProbeHandler: ping, PeriodSeconds: 5, FailureThreshold: 3, TimeoutSeconds: 3},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "tmp", MountPath: "/tmp"},
			{Name: "config", MountPath: "/etc/redis", ReadOnly: true},
			{Name: "password", MountPath: redisSecretDir, ReadOnly: true}},
	}
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: objectMeta(cl, Name(cl, ComponentRedis), ComponentRedis, true),
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To[int32](1),
			RevisionHistoryLimit: ptr.To[int32](3),
			Strategy:             appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, ComponentRedis)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, ComponentRedis), Annotations: map[string]string{AnnotationConfigHash: configHash}},
				Spec: corev1.PodSpec{
					ServiceAccountName:           Name(cl, ComponentRedis),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurity(RedisUID),
					Containers:                   []corev1.Container{c, redisACLContainer(cl)},
					Volumes: append([]corev1.Volume{emptyDir("data", nil), emptyDir("tmp", ptr.To(scratchFor(cl, ComponentRedis).limit)),
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: Name(cl, "redis-config")},
							Items:                []corev1.KeyToPath{{Key: RedisConfigFile, Path: RedisConfigFile}, {Key: RedisACLFile, Path: RedisACLFile}}}}},
						secretVolume("password", Name(cl, "redis")),
					}, helperVolumes(Name(cl, "redis-config"), redisACLScriptKey)...),
				},
			},
		},
	}
}

// BuildRedisService is the ClusterIP Service of the managed Redis.
func BuildRedisService(cl *clv1.ContractLucidity) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(cl, Name(cl, ComponentRedis), ComponentRedis, true),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: SelectorLabels(cl, ComponentRedis),
			Ports: []corev1.ServicePort{{Name: "redis", Port: PortRedis, TargetPort: intstr.FromString("redis"), Protocol: corev1.ProtocolTCP}}},
	}
}
