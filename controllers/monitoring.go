/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// ServiceMonitorGVK is prometheus-operator's ServiceMonitor. It is built
// unstructured so the operator does not depend on prometheus-operator's Go
// module, and applied only when the cluster serves the CRD.
var ServiceMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// BuildServiceMonitor scrapes /metrics on the port named metrics of the
// backend and the worker (never the backend's API port).
func BuildServiceMonitor(cl *clv1.ContractLucidity) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ServiceMonitorGVK)
	meta := objectMeta(cl, Name(cl, "metrics"), ComponentMonitor, true)
	u.SetName(meta.Name)
	u.SetNamespace(meta.Namespace)
	u.SetLabels(meta.Labels)
	u.SetOwnerReferences(meta.OwnerReferences)
	u.Object["spec"] = map[string]any{
		"selector": map[string]any{
			"matchLabels": map[string]any{LabelName: AppName, LabelInstance: cl.Name},
			"matchExpressions": []any{map[string]any{
				"key": LabelComponent, "operator": "In", "values": []any{ComponentBackend, ComponentWorker},
			}},
		},
		"endpoints": []any{
			map[string]any{"port": "metrics", "path": "/metrics", "interval": "30s"},
		},
	}
	return u
}
