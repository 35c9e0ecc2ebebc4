/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// indexSecretRefs indexes instances by the user-provided Secrets they reference.
const indexSecretRefs = "spec.secretRefs"

// UserSecretNames are the user-provided Secrets cl references.
func UserSecretNames(cl *clv1.ContractLucidity) []string {
	var out []string
	add := func(n string) {
		for _, o := range out {
			if o == n {
				return
			}
		}
		out = append(out, n)
	}
	if r := cl.Spec.Auth.JWTSecretRef; r != nil {
		add(r.Name)
	}
	if r := cl.Spec.Auth.EncryptionKeySecretRef; r != nil {
		add(r.Name)
	}
	if d := cl.Spec.Database; d != nil && d.External != nil {
		add(d.External.SecretRef.Name)
	}
	if r := cl.Spec.Redis; r != nil && r.External != nil {
		add(r.External.SecretRef.Name)
	}
	if d := cl.Spec.Database; d != nil && d.CloudNativePG != nil {
		add(CloudNativePGAppSecret(cl))
	}
	for _, n := range backupSecretNames(cl) {
		add(n)
	}
	return out
}

// newSecretMetadataCache is a second cache, apart from the manager's
// label-filtered one (whose Secret informer sees only our generated
// Secrets): it watches the metadata of every Secret (the API server sends
// no data) and keeps only name, namespace and resourceVersion of each, so
// a cluster with many large Secrets costs little memory. A change of a
// Secret an instance references then reconciles that instance.
func newSecretMetadataCache(mgr ctrl.Manager) (cache.Cache, error) {
	return cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient: mgr.GetHTTPClient(),
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		DefaultTransform: func(in any) (any, error) {
			m, ok := in.(*metav1.PartialObjectMetadata)
			if !ok {
				return in, nil
			}
			return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
				Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}}, nil
		},
	})
}

// watchUserSecrets indexes the instances by referenced Secret and returns
// the source of reconcile requests for Secret changes.
func (r *ContractLucidityReconciler) watchUserSecrets(mgr ctrl.Manager) (source.Source, error) {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &clv1.ContractLucidity{}, indexSecretRefs,
		func(o client.Object) []string { return UserSecretNames(o.(*clv1.ContractLucidity)) })
	if err != nil {
		return nil, fmt.Errorf("index instances by Secret: %w", err)
	}
	secrets, err := newSecretMetadataCache(mgr)
	if err != nil {
		return nil, fmt.Errorf("Secret metadata cache: %w", err)
	}
	if err := mgr.Add(secrets); err != nil {
		return nil, err
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return source.Kind(secrets, obj,
		handler.TypedEnqueueRequestsFromMapFunc(r.instancesReferencing),
		// A resync repeats the same version: nothing changed.
		predicate.TypedResourceVersionChangedPredicate[*metav1.PartialObjectMetadata]{}), nil
}

// instancesReferencing lists the instances in the Secret's namespace that reference it.
func (r *ContractLucidityReconciler) instancesReferencing(ctx context.Context, s *metav1.PartialObjectMetadata) []reconcile.Request {
	list := &clv1.ContractLucidityList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.Namespace), client.MatchingFields{indexSecretRefs: s.Name}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list instances referencing a Secret", "secret", s.Name)
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, cl := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: cl.Namespace, Name: cl.Name}})
	}
	return out
}
