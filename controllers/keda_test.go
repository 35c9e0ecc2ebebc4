/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// kedaCRDDir holds KEDA's ScaledObject and TriggerAuthentication CRDs,
// copied from its Go module by hack/keda-crd.sh.
var kedaCRDDir = filepath.Join("..", "test", "crds", "keda-2.21.0")

// installKEDA installs KEDA's real CRDs and restarts the manager, which
// then watches ScaledObjects (as the operator does when it starts in a
// cluster that serves them). Cleanup removes both again.
func installKEDA(t *testing.T) {
	t.Helper()
	installCRDs(t, kedaCRDDir, "KEDA CRDs")
}

func scaledObject(t *testing.T, ns, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ScaledObjectGVK)
	return u, k8sClient.Get(ctx, key(ns, name), u)
}

func gone(t *testing.T, what string, get func() error) {
	t.Helper()
	eventually(t, wait, what+" removed", func() error {
		if err := get(); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

// Without KEDA's CRD the worker scales on CPU, and the condition and a
// Warning event say what to install. The Redis NetworkPolicy already lets
// KEDA's namespace read the queue.
func TestQueueDepthWithoutKEDAFallsBackToCPU(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "queuedepth", nil)
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	got := waitCondition(t, ns, cl.Name, clv1.ConditionWorkerAutoscaling, metav1.ConditionFalse, clv1.ReasonKEDANotInstalled)
	c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionWorkerAutoscaling)
	for _, want := range []string{"keda.sh/v1alpha1 ScaledObject", "scales on CPU", "install KEDA"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q lacks %q", c.Message, want)
		}
	}
	findEvent(t, ns, cl.Name, clv1.ReasonKEDANotInstalled, corev1.EventTypeWarning, "install KEDA")
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	waitFor(t, hpa, key(ns, cl.Name+"-worker"), nil)
	if hpa.Spec.MaxReplicas != 10 || *hpa.Spec.MinReplicas != 1 || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Errorf("fallback HPA %+v", hpa.Spec)
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-redis"), nil)
	if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "keda" {
		t.Errorf("Redis ingress %+v does not admit KEDA's namespace", np.Spec.Ingress)
	}
	if !ready(got, clv1.ConditionWorkerReady) && meta.IsStatusConditionTrue(got.Status.Conditions, clv1.ConditionDegraded) {
		t.Errorf("the fallback degrades the instance")
	}
}

func ready(cl *clv1.ContractLucidity, t string) bool {
	return meta.IsStatusConditionTrue(cl.Status.Conditions, t)
}

// With KEDA's real CRDs the operator's ScaledObject and
// TriggerAuthentication are accepted by KEDA's schema and replace the CPU
// HPA the instance had before KEDA was there; removing queueDepth brings
// the HPA back and removes KEDA's objects.
func TestQueueDepthScaledObjectAcceptedByKEDA(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "queuedepth", nil)
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	waitFor(t, &autoscalingv2.HorizontalPodAutoscaler{}, key(ns, cl.Name+"-worker"), nil)

	installKEDA(t)
	name := cl.Name + "-worker"
	var so *unstructured.Unstructured
	eventually(t, wait, "ScaledObject", func() error {
		var err error
		so, err = scaledObject(t, ns, name)
		return err
	})
	spec := so.Object["spec"].(map[string]any)
	trig := spec["triggers"].([]any)[0].(map[string]any)
	for what, g := range map[string][2]any{
		"scaleTargetRef.name":                {spec["scaleTargetRef"].(map[string]any)["name"], name},
		"minReplicaCount":                    {spec["minReplicaCount"], int64(1)},
		"maxReplicaCount":                    {spec["maxReplicaCount"], int64(10)},
		"triggers[0].type":                   {trig["type"], "redis-streams"},
		"triggers[0].address":                {trigMetadata(so)["address"], fmt.Sprintf("%s-redis.%s.svc:6379", cl.Name, ns)},
		"triggers[0].stream":                 {trigMetadata(so)["stream"], JobStream},
		"triggers[0].streamLength":           {trigMetadata(so)["streamLength"], "4"},
		"triggers[0].authenticationRef.name": {trig["authenticationRef"].(map[string]any)["name"], name},
	} {
		if fmt.Sprint(g[0]) != fmt.Sprint(g[1]) {
			t.Errorf("ScaledObject %s = %v, want %v", what, g[0], g[1])
		}
	}
	if _, ok := trigMetadata(so)["consumerGroup"]; ok {
		t.Error("a consumerGroup makes KEDA count pending entries only: queued jobs would not scale")
	}
	if owners := so.GetOwnerReferences(); len(owners) != 1 || owners[0].Name != cl.Name {
		t.Errorf("ScaledObject owners %+v", owners)
	}
	ta := &unstructured.Unstructured{}
	ta.SetGroupVersionKind(TriggerAuthenticationGVK)
	waitFor(t, ta, key(ns, name), nil)
	refs, _, _ := unstructured.NestedSlice(ta.Object, "spec", "secretTargetRef")
	if len(refs) != 1 || refs[0].(map[string]any)["name"] != cl.Name+"-redis" || refs[0].(map[string]any)["parameter"] != "password" {
		t.Errorf("TriggerAuthentication secretTargetRef %v", refs)
	}
	gone(t, "CPU HPA", func() error { return k8sClient.Get(ctx, key(ns, name), &autoscalingv2.HorizontalPodAutoscaler{}) })
	waitCondition(t, ns, cl.Name, clv1.ConditionWorkerAutoscaling, metav1.ConditionTrue, clv1.ReasonQueueDepth)
	d := &appsv1.Deployment{}
	waitFor(t, d, key(ns, name), nil)
	// The replicas are KEDA's: the operator does not apply them.
	for _, f := range d.ManagedFields {
		if f.Manager == FieldManager && f.FieldsV1 != nil && strings.Contains(string(f.FieldsV1.Raw), `"f:replicas"`) {
			t.Errorf("the operator owns the worker's replicas while KEDA scales it")
		}
	}

	// KEDA's schema defaults fields of the ScaledObject: re-applying it
	// must still write nothing.
	settle(t, ns)
	before, logBefore := requests.Writes(ns), len(requests.WriteLog(ns))
	poke(t, ns, cl.Name, 3)
	if d := requests.Writes(ns) - before; d != 0 {
		t.Errorf("3 steady-state reconciles with a ScaledObject sent %d writes: %v", d, requests.WriteLog(ns)[logBefore:])
	}

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Worker.Autoscaling.QueueDepth = nil })
	waitFor(t, &autoscalingv2.HorizontalPodAutoscaler{}, key(ns, name), nil)
	gone(t, "ScaledObject", func() error { _, err := scaledObject(t, ns, name); return err })
	gone(t, "TriggerAuthentication", func() error { return k8sClient.Get(ctx, key(ns, name), ta) })
	waitCondition(t, ns, cl.Name, clv1.ConditionWorkerAutoscaling, metav1.ConditionTrue, clv1.ReasonCPU)
}

func trigMetadata(so *unstructured.Unstructured) map[string]any {
	return so.Object["spec"].(map[string]any)["triggers"].([]any)[0].(map[string]any)["metadata"].(map[string]any)
}

// spec.redis.managed.persistence puts the append-only file on a volume the
// operator creates (and keeps), with the Recreate strategy a
// ReadWriteOnce claim needs.
func TestRedisPersistenceKeepsTheQueueOnAVolume(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "queuedepth", nil)
	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, pvc, key(ns, cl.Name+"-redis-data"), nil)
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "2Gi" || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("Redis volume %s %v", q.String(), pvc.Spec.AccessModes)
	}
	if len(pvc.OwnerReferences) != 0 {
		t.Errorf("the Redis volume is owned (deleted with the instance): %+v", pvc.OwnerReferences)
	}
	d := &appsv1.Deployment{}
	waitFor(t, d, key(ns, cl.Name+"-redis"), nil)
	if !podUsesClaim(d.Spec.Template.Spec, cl.Name+"-redis-data") || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("Redis volumes %+v strategy %s", d.Spec.Template.Spec.Volumes, d.Spec.Strategy.Type)
	}
	conf := &corev1.ConfigMap{}
	waitFor(t, conf, key(ns, cl.Name+"-redis-config"), nil)
	if !strings.Contains(conf.Data[RedisConfigFile], "appendonly yes") {
		t.Errorf("redis.conf without the append-only file:\n%s", conf.Data[RedisConfigFile])
	}

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Redis.Managed.Persistence = nil })
	waitFor(t, d, key(ns, cl.Name+"-redis"), func() error {
		if podUsesClaim(d.Spec.Template.Spec, cl.Name+"-redis-data") {
			return fmt.Errorf("still on the volume")
		}
		return nil
	})
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-redis-data"), pvc); err != nil || pvc.DeletionTimestamp != nil {
		t.Errorf("the Redis volume went with persistence: %v", err)
	}
}
