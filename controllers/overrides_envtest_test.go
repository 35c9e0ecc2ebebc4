/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func containerNames(d *appsv1.Deployment) []string {
	var out []string
	for _, c := range d.Spec.Template.Spec.Containers {
		out = append(out, c.Name)
	}
	return out
}

// An override is applied, kept (never fought: steady-state reconciles send
// nothing), and a broken one leaves the last good object in place with
// OverridesApplied=False naming the override; removing it removes the
// patched fields.
func TestOverridesAppliedKeptAndFailuresLeaveTheLastGoodObject(t *testing.T) {
	sidecar := goldenOverrides[0]
	label := clv1.Override{Target: clv1.OverrideTarget{Kind: "Deployment"},
		Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\n  labels:\n    policy.example.com/cost-center: legal\n"}
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.Overrides = []clv1.Override{sidecar, label, {
			Target: clv1.OverrideTarget{Kind: "ServiceMonitor"}, Patch: "[]"}}
	})
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, cl.Name+"-backend"), func() error {
		if !slices.Contains(containerNames(dep), "audit-shipper") {
			return fmt.Errorf("containers %v", containerNames(dep))
		}
		if dep.Labels["policy.example.com/cost-center"] != "legal" {
			return fmt.Errorf("labels %v", dep.Labels)
		}
		return nil
	})
	got := waitCondition(t, ns, cl.Name, clv1.ConditionOverridesApplied, metav1.ConditionTrue, clv1.ReasonApplied)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionOverridesApplied); !strings.Contains(c.Message, "spec.overrides[2] matched no object") {
		t.Errorf("OverridesApplied message %q does not name the override that matched nothing", c.Message)
	}

	// Never fought: the patched object is what drift detection compares.
	settle(t, ns)
	before, logBefore := requests.Writes(ns), len(requests.WriteLog(ns))
	poke(t, ns, cl.Name, 3)
	if d := requests.Writes(ns) - before; d != 0 {
		t.Fatalf("3 reconciles with overrides sent %d writes, want 0: %v", d, requests.WriteLog(ns)[logBefore:])
	}

	// A patch that does not apply: the sidecar stays (last good object).
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) {
		cl.Spec.Overrides = []clv1.Override{label, {Target: sidecar.Target,
			Patch: `[{"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}]`}}
	})
	got = waitCondition(t, ns, cl.Name, clv1.ConditionOverridesApplied, metav1.ConditionFalse, clv1.ReasonOverridePatchFailed)
	c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionOverridesApplied)
	if !strings.Contains(c.Message, "spec.overrides[1] on Deployment/"+cl.Name+"-backend") {
		t.Errorf("message %q does not name the override and the object", c.Message)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, "Override"+clv1.ReasonOverridePatchFailed)
	settle(t, ns)
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-backend"), dep); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(containerNames(dep), "audit-shipper") {
		t.Errorf("a failed override removed the last good object's sidecar: %v", containerNames(dep))
	}
	// The other objects still get the good override.
	fe := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-frontend"), fe); err != nil || fe.Labels["policy.example.com/cost-center"] != "legal" {
		t.Errorf("frontend labels %v (%v)", fe.Labels, err)
	}

	// A patch that breaks the restricted Pod Security Standard.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) {
		cl.Spec.Overrides = []clv1.Override{sidecar, {Target: clv1.OverrideTarget{Kind: "Deployment", Name: ".*-worker"},
			Patch: `[{"op": "add", "path": "/spec/template/spec/hostNetwork", "value": true}]`}}
	})
	got = waitCondition(t, ns, cl.Name, clv1.ConditionOverridesApplied, metav1.ConditionFalse, clv1.ReasonOverridePodSecurity)
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionOverridesApplied); !strings.Contains(c.Message, "host namespaces") {
		t.Errorf("message %q does not say what the pod template violates", c.Message)
	}
	w := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-worker"), w); err != nil || w.Spec.Template.Spec.HostNetwork {
		t.Errorf("worker hostNetwork %v (%v)", w.Spec.Template.Spec.HostNetwork, err)
	}

	// Without overrides the patched fields go (server-side apply drops
	// fields our manager no longer sends) and the condition is removed.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Overrides = nil })
	waitFor(t, dep, key(ns, cl.Name+"-backend"), func() error {
		if slices.Contains(containerNames(dep), "audit-shipper") || dep.Labels["policy.example.com/cost-center"] != "" {
			return fmt.Errorf("containers %v labels %v", containerNames(dep), dep.Labels)
		}
		return nil
	})
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
	if c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionOverridesApplied); c != nil {
		t.Errorf("OverridesApplied still set without overrides: %+v", c)
	}
}

// The CRD refuses an override without a target or a patch.
func TestOverridesCELRules(t *testing.T) {
	ns := newNamespace(t)
	for _, tc := range []struct {
		o   clv1.Override
		msg string
	}{
		{clv1.Override{Patch: "[]"}, "selects every object"},
		{clv1.Override{Patch: "  \n", Target: clv1.OverrideTarget{Kind: "Deployment"}}, "patch is empty"},
	} {
		cl := loadSample(t, samples["development"])
		cl.Namespace, cl.UID = ns, ""
		cl.Spec.Overrides = []clv1.Override{tc.o}
		err := k8sClient.Create(ctx, cl)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("override %+v: err %v, want %q", tc.o, err, tc.msg)
		}
	}
}
