/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	pspolicy "k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/builtins" //nolint:staticcheck // the patch transformer `kustomize build` runs; no other public entry point
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// OverrideError is an override that could not be applied to an object.
type OverrideError struct {
	Index   int    // in spec.overrides
	Reason  string // clv1.ReasonOverride*
	Object  string // Kind/name
	Message string
}

func (e *OverrideError) Error() string {
	return fmt.Sprintf("spec.overrides[%d] on %s: %s", e.Index, e.Object, e.Message)
}

// ApplyOverrides applies, in order, every override whose target selects u
// with kustomize's patch transformer (what `kustomize build` runs for a
// kustomization's `patches:`) and returns the patched copy and the indices
// of the overrides that selected it. u is not modified. On an error nothing
// of the patches is returned: the caller keeps the object as it was last
// applied.
func ApplyOverrides(overrides []clv1.Override, u *unstructured.Unstructured) (*unstructured.Unstructured, []int, *OverrideError) {
	if len(overrides) == 0 {
		return u, nil, nil
	}
	object := u.GetKind() + "/" + u.GetName()
	fail := func(i int, reason, format string, args ...any) (*unstructured.Unstructured, []int, *OverrideError) {
		msg := fmt.Sprintf(format, args...)
		if len(msg) > 1024 {
			msg = msg[:1024] + "..."
		}
		return nil, nil, &OverrideError{Index: i, Reason: reason, Object: object, Message: msg}
	}
	rf := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
	helpers := resmap.NewPluginHelpers(nil, nil, rf, kustypes.DisabledPluginConfig())
	cur := u.DeepCopy()
	var matched []int
	for i, o := range overrides {
		in, err := json.Marshal(cur.Object)
		if err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "encode: %v", err)
		}
		m, err := rf.NewResMapFromBytes(in)
		if err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "load into kustomize: %v", err)
		}
		sel := kustypes.Selector{
			ResId: resid.ResId{
				Gvk:  resid.Gvk{Group: o.Target.Group, Version: o.Target.Version, Kind: o.Target.Kind},
				Name: o.Target.Name,
			},
			LabelSelector:      o.Target.LabelSelector,
			AnnotationSelector: o.Target.AnnotationSelector,
		}
		selected, err := m.Select(sel)
		if err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "target: %v", err)
		}
		if len(selected) == 0 {
			continue
		}
		matched = append(matched, i)
		cfg, err := yaml.Marshal(map[string]any{"patch": o.Patch, "target": sel})
		if err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "encode: %v", err)
		}
		p := builtins.NewPatchTransformerPlugin()
		if err := p.Config(helpers, cfg); err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "%v", err)
		}
		if err := p.Transform(m); err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "%v", err)
		}
		if m.Size() != 1 {
			return fail(i, clv1.ReasonOverrideForbiddenChange, "the patch deletes the object; set spec fields to turn a component off instead")
		}
		m.RemoveBuildAnnotations()
		out, err := m.Resources()[0].MarshalJSON()
		if err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "%v", err)
		}
		// Through JSON, so numbers compare with the live object's (float64).
		next := &unstructured.Unstructured{}
		if err := json.Unmarshal(out, &next.Object); err != nil {
			return fail(i, clv1.ReasonOverridePatchFailed, "%v", err)
		}
		if msg := forbiddenChange(cur, next); msg != "" {
			return fail(i, clv1.ReasonOverrideForbiddenChange, "%s", msg)
		}
		if msg := podSecurityBroken(cur, next); msg != "" {
			return fail(i, clv1.ReasonOverridePodSecurity,
				"the patched pod template breaks the restricted Pod Security Standard: %s", msg)
		}
		cur = next
	}
	return cur, matched, nil
}

// forbiddenChange names what a patch changed that it may not: what
// identifies the object, its owner references, or our labels.
func forbiddenChange(before, after *unstructured.Unstructured) string {
	switch {
	case before.GetAPIVersion() != after.GetAPIVersion() || before.GetKind() != after.GetKind():
		return fmt.Sprintf("the patch changes apiVersion/kind to %s %s", after.GetAPIVersion(), after.GetKind())
	case before.GetName() != after.GetName():
		return fmt.Sprintf("the patch changes metadata.name to %q", after.GetName())
	case before.GetNamespace() != after.GetNamespace():
		return fmt.Sprintf("the patch changes metadata.namespace to %q", after.GetNamespace())
	case !reflect.DeepEqual(before.GetOwnerReferences(), after.GetOwnerReferences()):
		return "the patch changes metadata.ownerReferences"
	}
	bl, al := before.GetLabels(), after.GetLabels()
	for _, k := range []string{LabelName, LabelInstance, LabelComponent, LabelManagedBy} {
		if v, ok := bl[k]; ok && al[k] != v {
			return fmt.Sprintf("the patch changes the label %s, which the operator sets (%q)", k, v)
		}
	}
	if v, ok := before.GetAnnotations()[AnnotationSpecHash]; ok && after.GetAnnotations()[AnnotationSpecHash] != v {
		return "the patch changes the annotation " + AnnotationSpecHash
	}
	return ""
}

// restrictedLatest is the level every generated pod meets.
var restrictedLatest = psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}

var podSecurityEvaluator = sync.OnceValues(func() (pspolicy.Evaluator, error) {
	return pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
})

// podSecurityBroken evaluates the pod template of a workload (Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) with the Pod Security
// admission's own checks and returns what the patched template violates
// that the unpatched one did not ("" when nothing, or no pod template).
func podSecurityBroken(before, after *unstructured.Unstructured) string {
	after0, ok, err := podTemplate(after)
	if err != nil {
		return err.Error()
	}
	if !ok {
		return ""
	}
	ev, err := podSecurityEvaluator()
	if err != nil {
		return err.Error()
	}
	res := pspolicy.AggregateCheckResults(ev.EvaluatePod(restrictedLatest, &after0.ObjectMeta, &after0.Spec))
	if res.Allowed {
		return ""
	}
	if before0, ok, err := podTemplate(before); err == nil && ok {
		if was := pspolicy.AggregateCheckResults(ev.EvaluatePod(restrictedLatest, &before0.ObjectMeta, &before0.Spec)); !was.Allowed {
			return "" // not the patch's doing
		}
	}
	return res.ForbiddenDetail()
}

// podTemplate reads the pod template of a workload kind.
func podTemplate(u *unstructured.Unstructured) (*corev1.PodTemplateSpec, bool, error) {
	var path []string
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		path = []string{"spec", "template"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	default:
		return nil, false, nil
	}
	m, ok, err := unstructured.NestedMap(u.Object, path...)
	if err != nil || !ok {
		return nil, false, err
	}
	t := &corev1.PodTemplateSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, t); err != nil {
		return nil, false, fmt.Errorf("read the pod template: %w", err)
	}
	return t, true, nil
}

// overrideRun collects what one reconcile's applies did with spec.overrides.
type overrideRun struct {
	overrides []clv1.Override
	mu        sync.Mutex
	matched   map[int]bool
	failure   *OverrideError // the first one
}

type overrideRunKey struct{}

// withOverrides makes apply patch every object of this reconcile with the
// instance's overrides.
func withOverrides(ctx context.Context, cl *clv1.ContractLucidity) (context.Context, *overrideRun) {
	run := &overrideRun{overrides: cl.Spec.Overrides, matched: map[int]bool{}}
	return context.WithValue(ctx, overrideRunKey{}, run), run
}

// patch applies the overrides to u. ok false: an override failed on it and
// it must not be applied (the failure is recorded).
func (run *overrideRun) patch(u *unstructured.Unstructured) (*unstructured.Unstructured, bool) {
	if run == nil || len(run.overrides) == 0 {
		return u, true
	}
	out, matched, err := ApplyOverrides(run.overrides, u)
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, i := range matched {
		run.matched[i] = true
	}
	if err != nil {
		if run.failure == nil {
			run.failure = err
		}
		return nil, false
	}
	return out, true
}

func overridesFrom(ctx context.Context) *overrideRun {
	run, _ := ctx.Value(overrideRunKey{}).(*overrideRun)
	return run
}

// overridesCondition reports the run in OverridesApplied; a failed override
// makes the instance Degraded (unless a step failed already) without
// stopping the other objects.
func (s *state) overridesCondition(run *overrideRun, completed bool) {
	if len(run.overrides) == 0 {
		meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionOverridesApplied)
		return
	}
	if f := run.failure; f != nil {
		msg := f.Error() + "; the objects it targets stay as last applied until the override is fixed"
		s.condition(clv1.ConditionOverridesApplied, false, f.Reason, msg)
		if s.warning == nil {
			s.warning = &stepError{reason: "Override" + f.Reason, message: msg, err: f}
		}
		return
	}
	if !completed {
		return // a step failed before every object was patched: nothing new to say
	}
	var unmatched []string
	for i := range run.overrides {
		if !run.matched[i] {
			unmatched = append(unmatched, fmt.Sprintf("spec.overrides[%d]", i))
		}
	}
	msg := fmt.Sprintf("%d overrides applied", len(run.overrides)-len(unmatched))
	if len(unmatched) > 0 {
		slices.Sort(unmatched)
		msg += "; " + strings.Join(unmatched, ", ") + " matched no object (check its target)"
	}
	s.condition(clv1.ConditionOverridesApplied, true, clv1.ReasonApplied, msg)
}
