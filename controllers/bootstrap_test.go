/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CreateOnce on a real API server: a missing ConfigMap or a bad manifest
// is an error that names it and creates nothing; a good one creates the
// instance with the manifest's metadata, once.
func TestInstanceBootstrapCreateOnce(t *testing.T) {
	ns := newNamespace(t)
	b := &InstanceBootstrap{Client: k8sClient, Reader: k8sClient, ConfigMap: client.ObjectKey{Namespace: ns, Name: "cl-instance"}}
	if _, err := b.CreateOnce(ctx); err == nil || !strings.Contains(err.Error(), "read ConfigMap "+ns+"/cl-instance") {
		t.Fatalf("no ConfigMap: err = %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cl-instance"},
		Data: map[string]string{BootstrapInstanceKey: "apiVersion: contractlucidity.io/v1alpha1\nkind: ContractLucidity\nmetadata:\n  name: boot\nspec:\n  environmnet: development\n"}}
	if err := k8sClient.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateOnce(ctx); err == nil || !strings.Contains(err.Error(), "environmnet") {
		t.Fatalf("a misspelt field: err = %v, want it named", err)
	}
	cm.Data[BootstrapInstanceKey] = `apiVersion: contractlucidity.io/v1alpha1
kind: ContractLucidity
metadata:
  name: boot
  namespace: elsewhere
  annotations:
    meta.helm.sh/release-name: cl
spec:
  environment: development
`
	if err := k8sClient.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	created, err := b.CreateOnce(ctx)
	if err != nil || created != "boot" {
		t.Fatalf("CreateOnce = %q, %v", created, err)
	}
	got := getCL(t, ns, "boot") // in the ConfigMap's namespace, whatever the manifest says
	if got.Annotations["meta.helm.sh/release-name"] != "cl" {
		t.Errorf("the instance lost Helm's ownership annotation: %v", got.Annotations)
	}
	if again, err := b.CreateOnce(ctx); err != nil || again != "" {
		t.Errorf("second CreateOnce = %q, %v; want nothing done", again, err)
	}
}
