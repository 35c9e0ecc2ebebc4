/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

// Override is one kustomize patch, written exactly as an entry of a
// kustomization's `patches:` list (an inline patch and its target): a
// strategic merge patch (a YAML or JSON object) or a JSON 6902 patch (a
// list of operations). The operator applies it with kustomize to the
// matching objects it generates for this instance, before server-side
// apply, so the patched object is what it keeps in place. A patch may not
// change an object's apiVersion, kind, name, namespace, owner references
// or the app.kubernetes.io labels the operator sets, and a patched pod
// template must still meet the restricted Pod Security Standard; an
// override that breaks a rule or does not apply sets OverridesApplied=False
// and the objects it targets stay as they were last applied.
// +kubebuilder:validation:XValidation:rule="size(self.patch.trim()) > 0",message="spec.overrides[].patch is empty: write a strategic merge patch or a JSON 6902 patch"
type Override struct {
	// Patch is the patch text, as in kustomize's `patches[].patch`.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=16384
	Patch string `json:"patch"`
	// Target selects the generated objects the patch applies to.
	Target OverrideTarget `json:"target"`
}

// OverrideTarget is kustomize's patch target selector, within the
// instance's own objects. Every field set must match; name is a regular
// expression matched against the whole name (objects are named
// <instance>-<component>, e.g. name: ".*-backend"); labelSelector is a
// label selector such as app.kubernetes.io/component=backend.
// +kubebuilder:validation:XValidation:rule="has(self.kind) || has(self.name) || has(self.labelSelector) || has(self.annotationSelector)",message="spec.overrides[].target selects every object: set at least one of kind, name, labelSelector or annotationSelector"
type OverrideTarget struct {
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Group string `json:"group,omitempty"`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Version string `json:"version,omitempty"`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Kind string `json:"kind,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// Conditions and reasons of the overrides.
const (
	// ConditionOverridesApplied: every spec.overrides entry applied to the
	// objects it targets (absent when there are no overrides).
	ConditionOverridesApplied = "OverridesApplied"
	// ReasonOverridePatchFailed: kustomize could not parse or apply a patch.
	ReasonOverridePatchFailed = "PatchFailed"
	// ReasonOverrideForbiddenChange: a patch changed what identifies an
	// object or ties it to the instance.
	ReasonOverrideForbiddenChange = "ForbiddenChange"
	// ReasonOverridePodSecurity: a patched pod template breaks the
	// restricted Pod Security Standard.
	ReasonOverridePodSecurity = "PodSecurityViolation"
)
