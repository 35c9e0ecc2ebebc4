/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// spec.database.cloudNativePG delegates PostgreSQL to CloudNativePG. The
// Cluster is built unstructured (CloudNativePG's Go API pins other
// Kubernetes versions than ours) and checked by the API server against
// CloudNativePG's own CRD schema when it is applied.
// +kubebuilder:rbac:groups=postgresql.cnpg.io,resources=clusters,verbs=get;list;watch;create;patch;delete

// CloudNativePGClusterGVK is CloudNativePG's Cluster.
var CloudNativePGClusterGVK = schema.GroupVersionKind{Group: "postgresql.cnpg.io", Version: "v1", Kind: "Cluster"}

// CloudNativePGInstallHint says what to install when the CRD is not served.
const CloudNativePGInstallHint = "install the CloudNativePG operator 1.27 or later, e.g. kubectl apply --server-side -f " +
	"https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/release-1.27/releases/cnpg-1.27.1.yaml"

// ComponentCloudNativePG labels the Cluster.
const ComponentCloudNativePG = "cloudnativepg"

// CloudNativePGClusterName is the Cluster; CloudNativePG names its
// read-write Service <cluster>-rw and the application's credentials
// Secret <cluster>-app.
func CloudNativePGClusterName(cl *clv1.ContractLucidity) string { return Name(cl, "pg") }

// CloudNativePGAppSecret is the Secret CloudNativePG writes with the
// application role's username, password and dbname.
func CloudNativePGAppSecret(cl *clv1.ContractLucidity) string {
	return CloudNativePGClusterName(cl) + "-app"
}

// CloudNativePGServed reports whether the cluster serves CloudNativePG's Cluster.
func CloudNativePGServed(m meta.RESTMapper) bool {
	_, err := m.RESTMapping(CloudNativePGClusterGVK.GroupKind(), CloudNativePGClusterGVK.Version)
	return err == nil
}

// BuildCloudNativePGCluster is <name>-pg: instances of PostgreSQL with the
// application's database and owner role created at initdb, and pgvector
// and pgcrypto created by the superuser in that database (the
// application role is no superuser). Its labels leave out
// app.kubernetes.io/name: CloudNativePG may be configured to copy Cluster
// labels to its pods, which must not fall under the instance's
// NetworkPolicies (they would cut replication). Like the data volumes it
// is owned by the instance, and deleted with it, only with
// spec.deletionPolicy.deleteData (CloudNativePG deletes its volumes with
// the Cluster).
func BuildCloudNativePGCluster(cl *clv1.ContractLucidity) (*unstructured.Unstructured, error) {
	c := cl.Spec.Database.CloudNativePG
	storage := map[string]any{"size": c.Storage.Size.String()}
	if c.Storage.StorageClassName != nil {
		storage["storageClass"] = *c.Storage.StorageClassName
	}
	spec := map[string]any{
		"instances": int64(c.Instances),
		"imageName": c.ImageName,
		"bootstrap": map[string]any{"initdb": map[string]any{
			"database": PostgresAppDB,
			"owner":    PostgresAppUser,
			"postInitApplicationSQL": []any{
				"CREATE EXTENSION IF NOT EXISTS vector",
				"CREATE EXTENSION IF NOT EXISTS pgcrypto",
			},
		}},
		"storage":               storage,
		"enableSuperuserAccess": false,
	}
	res, err := toMap(c.Resources)
	if err != nil {
		return nil, err
	}
	if len(res) > 0 {
		spec["resources"] = res
	}
	if len(c.Parameters) > 0 {
		params := map[string]any{}
		for k, v := range c.Parameters {
			params[k] = v
		}
		spec["postgresql"] = map[string]any{"parameters": params}
	}
	for field, raw := range map[string]*runtime.RawExtension{"backup": c.Backup, "affinity": c.Affinity} {
		if raw == nil || len(raw.Raw) == 0 {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal(raw.Raw, &m); err != nil {
			return nil, fmt.Errorf("spec.database.cloudNativePG.%s: %w", field, err)
		}
		spec[field] = m
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(CloudNativePGClusterGVK)
	m := objectMeta(cl, CloudNativePGClusterName(cl), ComponentCloudNativePG, cl.Spec.DeletionPolicy.DeleteData)
	delete(m.Labels, LabelName)
	u.SetName(m.Name)
	u.SetNamespace(m.Namespace)
	u.SetLabels(m.Labels)
	u.SetOwnerReferences(m.OwnerReferences)
	return u, nil
}

// toMap converts v to its JSON object form.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	pruneNulls(m)
	return m, nil
}

// CloudNativePGReady reads the Cluster's status: ready when CloudNativePG
// says so (its Ready condition), with a message about its instances.
func CloudNativePGReady(u *unstructured.Unstructured) (bool, string) {
	want, _, _ := unstructured.NestedInt64(u.Object, "spec", "instances")
	ready, _, _ := unstructured.NestedInt64(u.Object, "status", "readyInstances")
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	primary, _, _ := unstructured.NestedString(u.Object, "status", "currentPrimary")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	ok := false
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			ok = true
		}
	}
	msg := fmt.Sprintf("CloudNativePG Cluster %s: %d of %d instances ready", u.GetName(), ready, want)
	if primary != "" {
		msg += ", primary " + primary
	}
	if phase != "" {
		msg += " (" + phase + ")"
	}
	return ok, msg
}

// reconcileCloudNativePG applies the Cluster and reads its readiness and
// the application's credentials Secret, which backend, worker and the Jobs
// read (their configuration hash follows its resourceVersion). The
// migrations wait until that Secret exists.
func (r *ContractLucidityReconciler) reconcileCloudNativePG(ctx context.Context, s *state) error {
	s.status.Components.Postgres = clv1.ReplicaStatus{}
	notInstalled := func() error {
		msg := fmt.Sprintf("spec.database.cloudNativePG is set but the cluster does not serve %s/%s %s: %s",
			CloudNativePGClusterGVK.Group, CloudNativePGClusterGVK.Version, CloudNativePGClusterGVK.Kind, CloudNativePGInstallHint)
		s.condition(clv1.ConditionDatabaseReady, false, clv1.ReasonCloudNativePGNotInstalled, msg)
		return &stepError{reason: clv1.ReasonCloudNativePGNotInstalled, message: msg}
	}
	if _, err := r.RESTMapper.RESTMapping(CloudNativePGClusterGVK.GroupKind(), CloudNativePGClusterGVK.Version); err != nil {
		if meta.IsNoMatchError(err) {
			return notInstalled()
		}
		return fmt.Errorf("discover CloudNativePG: %w", err)
	}
	desired, err := BuildCloudNativePGCluster(s.d)
	if err != nil {
		return degraded("InvalidCloudNativePGSpec", err)
	}
	if err := r.apply(ctx, desired); err != nil {
		// The CRD went away since the mapper looked.
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return notInstalled()
		}
		// A field CloudNativePG's schema does not declare (in the
		// passthrough backup or affinity) fails server-side apply with a
		// 500 that only its text tells apart.
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || strings.Contains(err.Error(), "field not declared in schema") {
			return degraded("InvalidCloudNativePGSpec", err)
		}
		return err
	}
	// Installed after the operator started: no watch; look again while the
	// Cluster is not ready.
	lookAgain := func() {
		if !r.cloudNativePGWatched {
			s.requeue(30 * time.Second)
		}
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(CloudNativePGClusterGVK)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return fmt.Errorf("get Cluster %s: %w", desired.GetName(), err)
	}
	ready, msg := CloudNativePGReady(live)
	want, _, _ := unstructured.NestedInt64(live.Object, "spec", "instances")
	have, _, _ := unstructured.NestedInt64(live.Object, "status", "readyInstances")
	s.status.Components.Postgres = clv1.ReplicaStatus{Ready: int32(have), Desired: int32(want)}

	secret := &corev1.Secret{}
	name := CloudNativePGAppSecret(s.cl)
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: name}, secret)
	switch {
	case isNotFound(err):
		s.migrationsWait = "waits for CloudNativePG to create Secret " + name
		lookAgain()
		s.condition(clv1.ConditionDatabaseReady, false, "Starting", msg+"; its Secret "+name+" does not exist yet")
		return nil
	case err != nil:
		return fmt.Errorf("read secret %s: %w", name, err)
	}
	s.secretVersions[name] = secret.ResourceVersion
	if !ready {
		s.migrationsWait = "waits for the CloudNativePG Cluster " + live.GetName() + " to be ready"
		lookAgain()
		s.condition(clv1.ConditionDatabaseReady, false, "NotReady", msg)
		return nil
	}
	s.condition(clv1.ConditionDatabaseReady, true, "Ready", msg)
	return nil
}
