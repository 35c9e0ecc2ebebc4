/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// NewScheme registers the built-in kinds and the ContractLucidity API.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := clv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// CacheOptions restricts the informers of every child kind to objects
// labelled app.kubernetes.io/managed-by=contract-lucidity-operator, so the
// operator's memory does not grow with the cluster's unrelated objects.
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	by := cache.ByObject{Label: managed}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			// Secrets: clusters hold many (service account tokens, Helm
			// releases, TLS certificates) and they are large; we cache only
			// our generated ones. User-referenced Secrets are read uncached
			// through the APIReader; their changes come from a separate
			// metadata-only cache (secretwatch.go).
			&corev1.Secret{}: by,
			// ConfigMaps: every namespace has kube-root-ca.crt and
			// applications keep many; we cache only ours.
			&corev1.ConfigMap{}: by,
			// Services, ServiceAccounts, PVCs: present in every namespace;
			// only ours matter.
			&corev1.Service{}:               by,
			&corev1.ServiceAccount{}:        by,
			&corev1.PersistentVolumeClaim{}: by,
			// Workloads: other applications' Deployments, StatefulSets and
			// Jobs (CronJobs create many) are none of our business.
			&appsv1.Deployment{}:  by,
			&appsv1.StatefulSet{}: by,
			&batchv1.Job{}:        by,
			&batchv1.CronJob{}:    by,
			// Networking and policy objects of other applications.
			&networkingv1.Ingress{}:                  by,
			&networkingv1.NetworkPolicy{}:            by,
			&policyv1.PodDisruptionBudget{}:          by,
			&autoscalingv2.HorizontalPodAutoscaler{}: by,
		},
	}
}

// ServiceMonitorServed reports whether the cluster serves prometheus-operator's ServiceMonitor.
func ServiceMonitorServed(m meta.RESTMapper) bool {
	_, err := m.RESTMapping(ServiceMonitorGVK.GroupKind(), ServiceMonitorGVK.Version)
	return err == nil
}
