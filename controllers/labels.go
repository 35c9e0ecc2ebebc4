/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Labels and annotations (design.md §3).
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	AppName   = "contract-lucidity"
	ManagedBy = "contract-lucidity-operator"

	// FieldManager is the single server-side apply field manager.
	FieldManager = "contract-lucidity-operator"

	// AnnotationSpecHash on every applied object is a hash of the desired
	// object; equal hash on the live object means there is nothing to apply.
	AnnotationSpecHash = "contractlucidity.io/spec-hash"
	// AnnotationConfigHash on pod templates is a hash of the configuration
	// and secret values the pods consume, so a change rolls them.
	AnnotationConfigHash = "contractlucidity.io/config-hash"
	// AnnotationVersion on migration Jobs and gated pod templates names the application version.
	AnnotationVersion = "contractlucidity.io/version"
)

// Components.
const (
	ComponentFrontend = "frontend"
	ComponentBackend  = "backend"
	ComponentWorker   = "worker"
	ComponentPostgres = "postgres"
	ComponentRedis    = "redis"
	ComponentMigrate  = "migrate"
	ComponentStorage  = "storage"
	ComponentConfig   = "config"
	ComponentSecrets  = "secrets"
	ComponentIngress  = "ingress"
	ComponentNetwork  = "network-policy"
	ComponentMonitor  = "monitoring"
)

// Ports.
const (
	PortFrontend = 3000
	PortBackend  = 8000
	PortWorker   = 9090 // the worker's metrics and health
	// PortBackendMetrics serves the backend's /metrics (BACKEND_METRICS_ADDR),
	// apart from the API so that only monitoring may reach it.
	PortBackendMetrics = 9091
	PortPostgres       = 5432
	PortRedis          = 6379
)

// DefaultImageRepository is the application image; the tag is spec.version.
const DefaultImageRepository = "ghcr.io/contract-lucidity/contract-lucidity"

// Labels returns the design.md §3 labels of a child of cl.
func Labels(cl *clv1.ContractLucidity, component string) map[string]string {
	return map[string]string{
		LabelName:      AppName,
		LabelInstance:  cl.Name,
		LabelComponent: component,
		LabelManagedBy: ManagedBy,
	}
}

// SelectorLabels selects the pods of one component of one instance. They
// are immutable on Deployments and StatefulSets, so they never change.
func SelectorLabels(cl *clv1.ContractLucidity, component string) map[string]string {
	return map[string]string{
		LabelName:      AppName,
		LabelInstance:  cl.Name,
		LabelComponent: component,
	}
}

// instanceSelector selects every pod of the instance.
func instanceSelector(cl *clv1.ContractLucidity) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{LabelName: AppName, LabelInstance: cl.Name}}
}

// Name is the name of a child: <instance>-<suffix>.
func Name(cl *clv1.ContractLucidity, suffix string) string { return cl.Name + "-" + suffix }

// objectMeta is the metadata of a child: name, namespace, labels and, when
// owned, the controller owner reference.
func objectMeta(cl *clv1.ContractLucidity, name, component string, owned bool) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Name: name, Namespace: cl.Namespace, Labels: Labels(cl, component)}
	if owned {
		m.OwnerReferences = []metav1.OwnerReference{OwnerRef(cl)}
	}
	return m
}

// OwnerRef is the controller reference to cl.
func OwnerRef(cl *clv1.ContractLucidity) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         clv1.GroupVersion.String(),
		Kind:               "ContractLucidity",
		Name:               cl.Name,
		UID:                cl.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// versionSlug turns a version into a DNS label fragment plus a short hash,
// so distinct versions never collide ("1.2.0+a" and "1.2.0-a").
func versionSlug(v string) string {
	s := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(v), "-"), "-")
	if len(s) > 12 {
		s = strings.Trim(s[:12], "-")
	}
	sum := sha256.Sum256([]byte(v))
	return s + "-" + hex.EncodeToString(sum[:])[:6]
}

// hashStrings is a stable sha256 over key/value pairs (keys sorted by the caller).
func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
