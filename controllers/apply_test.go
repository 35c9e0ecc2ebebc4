/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestContainsComparesOnlyTheFieldsWeSet(t *testing.T) {
	obj := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := obj(`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}}`)
	tests := []struct {
		live string
		same bool
		path string
	}{
		// defaults and other writers' fields are extra keys: still ours
		{`{"metadata":{"uid":"x"},"spec":{"replicas":1,"progressDeadlineSeconds":600,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","imagePullPolicy":"IfNotPresent","env":[{"name":"A","value":"1"}]}]}}}}`, true, ""},
		{`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}}`, false, ".spec.replicas"},
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"evil","env":[{"name":"A","value":"1"}]}]}}}}`, false, ".spec.template.spec.containers[0].image"},
		// a removed or added list element is a difference
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[]}]}}}}`, false, ".spec.template.spec.containers[0].env"},
		{`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"backend","image":"app:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}}}`, false, ".spec.template.spec.containers[0].env"},
		{`{"spec":{"replicas":1}}`, false, ".spec.template"},
	}
	for _, tc := range tests {
		path, same := contains(obj(tc.live), want, "")
		if same != tc.same || path != tc.path {
			t.Errorf("contains(%s) = %q, %v; want %q, %v", tc.live, path, same, tc.path, tc.same)
		}
	}
}

// A field the API server stores in another form than we send (here a
// volumeClaimTemplate's apiVersion/kind, which it drops) looks like drift
// on every reconcile. The first re-apply shows that nothing changes and is
// remembered: later reconciles send nothing until the object changes. A
// real edit by another writer is still reverted.
func TestNormalisedFieldsDoNotCauseAWriteLoop(t *testing.T) {
	ns := newNamespace(t)
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	counted, err := client.New(managerCfg, client.Options{Scheme: scheme}) // its writes are counted
	if err != nil {
		t.Fatal(err)
	}
	r := &ContractLucidityReconciler{Client: counted}
	labels := map[string]string{"app": "normalised"}
	build := func() *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
			Spec: appsv1.StatefulSetSpec{
				Replicas: ptr.To(int32(1)), ServiceName: "db",
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres:16"}}}},
				VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
					TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, // dropped by the server
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
				}},
			},
		}
	}
	for i := range 4 {
		if err := r.apply(ctx, build()); err != nil {
			t.Fatalf("apply %d: %v", i+1, err)
		}
	}
	// create, one probing re-apply, then nothing
	if n := requests.Writes(ns); n != 2 {
		t.Fatalf("4 applies sent %d writes, want 2: %v", n, requests.WriteLog(ns))
	}
	live := &appsv1.StatefulSet{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, live); err != nil {
		t.Fatal(err)
	}
	live.Spec.Replicas = ptr.To(int32(3))
	if err := k8sClient.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := r.apply(ctx, build()); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, live); err != nil {
		t.Fatal(err)
	}
	if *live.Spec.Replicas != 1 {
		t.Fatalf("replicas edited to 3 stayed %d", *live.Spec.Replicas)
	}
}
