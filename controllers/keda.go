/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// JobStream is the Redis stream of the worker's jobs (the services'
// queue.DefaultStream; the worker deletes a job from it when it is done).
const JobStream = "cl:jobs"

// spec.worker.autoscaling.queueDepth: a KEDA ScaledObject scales the
// worker on the length of the job stream, read from the managed Redis by
// KEDA's redis-streams scaler with the password from a
// TriggerAuthentication. KEDA's objects are built unstructured: its Go
// module (v2) pulls in every cloud SDK its scalers use.

// KEDA's kinds.
var (
	ScaledObjectGVK          = schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}
	TriggerAuthenticationGVK = schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}
)

// KEDAServed reports whether the cluster serves KEDA's ScaledObject.
func KEDAServed(m meta.RESTMapper) bool {
	_, err := m.RESTMapping(ScaledObjectGVK.GroupKind(), ScaledObjectGVK.Version)
	return err == nil
}

// queueDepth is spec.worker.autoscaling.queueDepth (nil when not asked for).
func queueDepth(cl *clv1.ContractLucidity) *clv1.QueueDepthSpec {
	if a := cl.Spec.Worker.Autoscaling; a != nil {
		return a.QueueDepth
	}
	return nil
}

// queueScalerName names the ScaledObject and its TriggerAuthentication.
func queueScalerName(cl *clv1.ContractLucidity) string { return Name(cl, ComponentWorker) }

func kedaObject(cl *clv1.ContractLucidity, gvk schema.GroupVersionKind, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	m := objectMeta(cl, queueScalerName(cl), ComponentWorker, true)
	u.SetName(m.Name)
	u.SetNamespace(m.Namespace)
	u.SetLabels(m.Labels)
	u.SetOwnerReferences(m.OwnerReferences)
	u.Object["spec"] = spec
	return u
}

// BuildWorkerTriggerAuthentication gives KEDA the managed Redis' password
// (KEDA reads the Secret itself; the value never passes through us).
func BuildWorkerTriggerAuthentication(cl *clv1.ContractLucidity) *unstructured.Unstructured {
	return kedaObject(cl, TriggerAuthenticationGVK, map[string]any{
		"secretTargetRef": []any{map[string]any{
			"parameter": "password", "name": Name(cl, "redis"), "key": SecretKeyRedisPassword,
		}},
	})
}

// BuildWorkerScaledObject scales the worker Deployment to
// ceil(XLEN cl:jobs / targetJobsPerReplica) replicas within
// [minReplicas, maxReplicas]. Without a consumer group the scaler reads the
// stream's length, which is exactly the unfinished jobs (queued or in
// progress) since the worker deletes finished ones; pending-entry counts
// would miss the queued jobs. The scale-down stabilisation is the
// cooldown. KEDA runs in its own namespace, hence the Service's full name.
func BuildWorkerScaledObject(cl *clv1.ContractLucidity) *unstructured.Unstructured {
	a := cl.Spec.Worker.Autoscaling
	q := a.QueueDepth
	return kedaObject(cl, ScaledObjectGVK, map[string]any{
		"scaleTargetRef":  map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": Name(cl, ComponentWorker)},
		"minReplicaCount": int64(a.MinReplicas),
		"maxReplicaCount": int64(a.MaxReplicas),
		"pollingInterval": int64(q.PollingIntervalSeconds),
		"cooldownPeriod":  int64(q.CooldownPeriodSeconds),
		"advanced": map[string]any{"horizontalPodAutoscalerConfig": map[string]any{
			"behavior": map[string]any{"scaleDown": map[string]any{"stabilizationWindowSeconds": int64(q.CooldownPeriodSeconds)}},
		}},
		"triggers": []any{map[string]any{
			"type": "redis-streams",
			"metadata": map[string]any{
				"address":       fmt.Sprintf("%s.%s.svc:%d", Name(cl, ComponentRedis), cl.Namespace, PortRedis),
				"databaseIndex": "0",
				"stream":        JobStream,
				"streamLength":  strconv.Itoa(int(queueTarget(cl))),
			},
			"authenticationRef": map[string]any{"name": queueScalerName(cl)},
		}},
	})
}

// queueTarget is the unfinished jobs per worker replica (default: the
// worker's concurrency, one job per pipeline slot).
func queueTarget(cl *clv1.ContractLucidity) int32 {
	if t := queueDepth(cl).TargetJobsPerReplica; t > 0 {
		return t
	}
	return cl.Spec.Worker.Concurrency
}

// workerScaling decides how the worker scales: (queue, reason, message).
// queue is true when a ScaledObject does it.
func workerScaling(cl *clv1.ContractLucidity, kedaServed bool) (bool, string, string) {
	a := cl.Spec.Worker.Autoscaling
	switch {
	case a == nil:
		return false, "", ""
	case a.QueueDepth == nil:
		return false, clv1.ReasonCPU, fmt.Sprintf("HorizontalPodAutoscaler %s scales the worker on CPU (%d%%), %d to %d replicas",
			Name(cl, ComponentWorker), a.TargetCPUUtilizationPercentage, a.MinReplicas, a.MaxReplicas)
	case !kedaServed:
		return false, clv1.ReasonKEDANotInstalled, fmt.Sprintf(
			"spec.worker.autoscaling.queueDepth is set but the cluster does not serve %s %s: the worker scales on CPU (%d%%) meanwhile; install KEDA 2.x (e.g. helm install keda kedacore/keda --namespace keda --create-namespace)",
			ScaledObjectGVK.GroupVersion(), ScaledObjectGVK.Kind, a.TargetCPUUtilizationPercentage)
	default:
		return true, clv1.ReasonQueueDepth, fmt.Sprintf("ScaledObject %s scales the worker on the job queue (%d unfinished jobs per replica), %d to %d replicas",
			queueScalerName(cl), queueTarget(cl), a.MinReplicas, a.MaxReplicas)
	}
}

// reconcileWorkerScaling applies the ScaledObject or the CPU HPA of the
// worker (the caller prunes the HPA it does not keep), removes KEDA's
// objects when they are no longer wanted, and records the choice in the
// WorkerAutoscaling condition, with an event when it changes.
func (r *ContractLucidityReconciler) reconcileWorkerScaling(ctx context.Context, s *state) (hpa bool, err error) {
	served := KEDAServed(r.RESTMapper)
	useQueue, reason, msg := workerScaling(s.d, served)
	if useQueue {
		for _, o := range []*unstructured.Unstructured{BuildWorkerTriggerAuthentication(s.d), BuildWorkerScaledObject(s.d)} {
			if err := r.apply(ctx, o); err != nil {
				return false, err
			}
		}
	} else if served && isQueueReason(meta.FindStatusCondition(s.status.Conditions, clv1.ConditionWorkerAutoscaling)) {
		// The condition records that KEDA's objects were applied; without
		// it there is nothing to delete (and no list on every reconcile).
		for _, gvk := range []schema.GroupVersionKind{ScaledObjectGVK, TriggerAuthenticationGVK} {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			if err := r.prune(ctx, s, list, ComponentWorker, nil); err != nil {
				return false, err
			}
		}
	}
	prev := meta.FindStatusCondition(s.status.Conditions, clv1.ConditionWorkerAutoscaling)
	if reason == "" {
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionWorkerAutoscaling)
		return false, nil
	}
	if prev == nil || prev.Reason != reason {
		typ := corev1.EventTypeNormal
		if reason == clv1.ReasonKEDANotInstalled {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(s.cl, nil, typ, reason, "Autoscale", "%s", msg)
	}
	s.condition(clv1.ConditionWorkerAutoscaling, reason != clv1.ReasonKEDANotInstalled, reason, msg)
	if reason == clv1.ReasonKEDANotInstalled {
		// Noticed within minutes once KEDA is installed (CRDs are not watched).
		s.requeue(kedaRecheck)
	}
	return !useQueue, nil
}

// kedaRecheck is how often an instance waiting for KEDA looks again.
const kedaRecheck = 5 * time.Minute

func isQueueReason(c *metav1.Condition) bool { return c != nil && c.Reason == clv1.ReasonQueueDepth }
