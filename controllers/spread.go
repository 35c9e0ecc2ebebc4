/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// defaultSpread spreads the replicas of an application component over
// nodes and zones, so one node or zone going down leaves replicas running.
// It applies only when the component can have more than one replica and the
// user placed none (no topologySpreadConstraints, no pod anti-affinity),
// and not to backend and worker co-located on one node for ReadWriteOnce
// storage. ScheduleAnyway: a single-node cluster still schedules every
// replica. pod-template-hash limits the count to the current revision, so
// a rollout spreads the new pods too.
func defaultSpread(cl *clv1.ContractLucidity, component string) []corev1.TopologySpreadConstraint {
	spec := componentSpec(cl, component)
	if len(spec.TopologySpreadConstraints) > 0 || (spec.Affinity != nil && spec.Affinity.PodAntiAffinity != nil) ||
		maxReplicas(spec) < 2 || (StorageCoLocated(cl) && usesStorage(component)) {
		return nil
	}
	var out []corev1.TopologySpreadConstraint
	for _, key := range []string{corev1.LabelHostname, corev1.LabelTopologyZone} {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       key,
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, component)},
			MatchLabelKeys:    []string{"pod-template-hash"},
		})
	}
	return out
}

// maxReplicas is the most replicas a component can run.
func maxReplicas(spec *clv1.ComponentSpec) int32 {
	if spec.Autoscaling != nil {
		return spec.Autoscaling.MaxReplicas
	}
	if spec.Replicas == nil {
		return 1
	}
	return *spec.Replicas
}
