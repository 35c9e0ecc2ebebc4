/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// A user-provided Secret that changes rolls the pods that read it, without
// any other event: the operator watches the Secrets instances reference.
func TestChangedUserSecretRollsThePodsThatReadIt(t *testing.T) {
	ns := newNamespace(t)
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-jwt"},
		Data: map[string][]byte{SecretKeyJWT: []byte(strings.Repeat("a", 48))}}
	if err := k8sClient.Create(ctx, user); err != nil {
		t.Fatal(err)
	}
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
		cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "my-jwt"}
	})
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	hash := func(component string) string {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, cl.Name+"-"+component), nil)
		return d.Spec.Template.Annotations[AnnotationConfigHash]
	}
	backend, worker := hash(ComponentBackend), hash(ComponentWorker)
	settle(t, ns)

	user.Data[SecretKeyJWT] = []byte(strings.Repeat("b", 48))
	if err := k8sClient.Update(ctx, user); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "backend rolled", func() error {
		if h := hash(ComponentBackend); h == backend {
			return fmt.Errorf("backend config hash still %s", h)
		}
		return nil
	})
	if h := hash(ComponentWorker); h != worker {
		t.Errorf("the worker rolled (%s -> %s) although it does not read the JWT key", worker, h)
	}
}

// The pod template's config hash does not let whoever reads Deployments
// confirm a guess of a secret: it digests Secret resourceVersions, not
// values. (Recomputing it from the public configuration and the true secret
// values must not give the annotation.)
func TestConfigHashDoesNotDigestSecretValues(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	d := &appsv1.Deployment{}
	waitFor(t, d, key(ns, cl.Name+"-backend"), nil)
	live := Defaulted(getCL(t, ns, cl.Name))
	values := map[string]string{}
	for _, k := range ConsumedSecretKeys(live, ComponentBackend) {
		sec := &corev1.Secret{}
		waitFor(t, sec, key(ns, k.Name), nil)
		values[k.Name+"/"+k.Key] = string(sec.Data[k.Key])
	}
	if ConfigHash(configKeysFor(ComponentBackend, ConfigData(live)), values) == d.Spec.Template.Annotations[AnnotationConfigHash] {
		t.Fatal("the backend's config hash is a digest of the configuration and the secret values")
	}
}
