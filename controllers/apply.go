/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// apply server-side applies obj (built with TypeMeta set) with our single
// field manager, sending only the fields the builder set, unless the live
// object already carries the hash of exactly this desired object and every
// field we set still has our value: then it sends nothing, so a
// steady-state reconcile issues no write request. A change another writer
// makes to one of our fields (kubectl edit of a NetworkPolicy, an image
// swapped by hand) is drift: it is logged and reverted on the next
// reconcile, which the edit itself triggers through the owned-object watch.
// A re-apply that changes nothing (the server keeps one of our fields in
// another form) is remembered, so it is not repeated on every reconcile.
func (r *ContractLucidityReconciler) apply(ctx context.Context, obj client.Object) error {
	u, err := toApplyUnstructured(obj)
	if err != nil {
		return err
	}
	// The instance's spec.overrides patch the request before it is hashed,
	// so the patched object is the one kept in place (overrides.go).
	u, ok := overridesFrom(ctx).patch(u)
	if !ok {
		return r.keepLastApplied(ctx, obj)
	}
	hash := hashObject(u)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationSpecHash] = hash
	u.SetAnnotations(ann)
	// The caller's object carries the hash too (deploymentStatus compares it).
	if _, isU := obj.(*unstructured.Unstructured); !isU {
		objAnn := obj.GetAnnotations()
		if objAnn == nil {
			objAnn = map[string]string{}
		}
		objAnn[AnnotationSpecHash] = hash
		obj.SetAnnotations(objAnn)
	}

	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err = r.getLive(ctx, client.ObjectKeyFromObject(obj), obj, live)
	key := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	drift := "" // the first field another writer changed, when re-applying because of it
	switch {
	case err == nil && live.GetAnnotations()[AnnotationSpecHash] == hash:
		path, same := contains(live.Object, u.Object, "")
		if same {
			return nil
		}
		if v, ok := r.normalised.Load(key); ok && v == hash+"@"+live.GetResourceVersion() {
			return nil
		}
		log.FromContext(ctx).Info("reverting a change another writer made to a field the operator manages",
			"kind", u.GetKind(), "name", u.GetName(), "field", path)
		drift = path
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("get %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if drift != "" && u.GetResourceVersion() == live.GetResourceVersion() {
		// Nothing changed: the server keeps that field in its own form.
		log.FromContext(ctx).V(1).Info("field normalised by the API server; not re-applying it",
			"kind", u.GetKind(), "name", u.GetName(), "field", drift)
		r.normalised.Store(key, hash+"@"+live.GetResourceVersion())
	}
	return nil
}

// keepLastApplied leaves obj as it was last applied (an override failed on
// it): nothing is sent, and obj carries the live object's hash so that
// status checks (deploymentStatus) judge the object that runs.
func (r *ContractLucidityReconciler) keepLastApplied(ctx context.Context, obj client.Object) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	if err := r.getLive(ctx, client.ObjectKeyFromObject(obj), obj, live); err != nil {
		return client.IgnoreNotFound(err)
	}
	if h, ok := live.GetAnnotations()[AnnotationSpecHash]; ok {
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationSpecHash] = h
		obj.SetAnnotations(ann)
	}
	return nil
}

// getLive reads the live object into u: typed kinds from the
// label-filtered cache (through JSON, so values compare with the apply
// request's), unstructured kinds (ServiceMonitor) from the API server.
func (r *ContractLucidityReconciler) getLive(ctx context.Context, key client.ObjectKey, typed client.Object, u *unstructured.Unstructured) error {
	if _, ok := typed.(*unstructured.Unstructured); ok {
		return r.Client.Get(ctx, key, u)
	}
	live, ok := typed.DeepCopyObject().(client.Object)
	if !ok {
		return fmt.Errorf("%T is not a client.Object", typed)
	}
	if err := r.Client.Get(ctx, key, live); err != nil {
		return err
	}
	b, err := json.Marshal(live)
	if err != nil {
		return fmt.Errorf("encode %T: %w", live, err)
	}
	return json.Unmarshal(b, &u.Object)
}

// contains reports whether every field set in want has the same value in
// got: maps may have more keys in got (defaults, other writers' fields),
// lists must have the same length and match element by element (the API
// server keeps the order of an applied list). It returns the path of the
// first difference.
func contains(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if p, ok := contains(g[k], w[k], path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		return path, reflect.DeepEqual(got, want)
	}
}

// toApplyUnstructured converts a typed object to the unstructured apply
// request: JSON (omitempty drops unset fields), minus status and nulls such
// as metadata.creationTimestamp.
func toApplyUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	pruneNulls(m)
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return nil, fmt.Errorf("%T %s: builder did not set apiVersion/kind", obj, obj.GetName())
	}
	return u, nil
}

// pruneNulls removes null values and the empty objects they leave behind.
func pruneNulls(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			pruneNulls(t)
			if len(t) == 0 && (k == "metadata" || k == "status" || k == "creationTimestamp") {
				delete(m, k)
			}
		case []any:
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					pruneNulls(em)
				}
			}
		}
	}
}

// hashObject hashes the apply request (json.Marshal sorts map keys).
func hashObject(u *unstructured.Unstructured) string {
	b, _ := json.Marshal(u.Object)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:20]
}
