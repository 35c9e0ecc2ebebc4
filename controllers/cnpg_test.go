/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// cnpgCRDDir holds CloudNativePG's Cluster CRD, copied from its Go module
// by hack/cnpg-crd.sh.
var cnpgCRDDir = filepath.Join("..", "test", "crds", "cnpg-1.27.1")

// installCloudNativePG installs the real Cluster CRD and restarts the
// manager, which then watches Clusters (as the operator does when it
// starts in a cluster that serves them). Cleanup removes both again.
func installCloudNativePG(t *testing.T) {
	t.Helper()
	crds, err := envtest.InstallCRDs(testEnv.Config, envtest.CRDInstallOptions{Paths: []string{cnpgCRDDir}, ErrorIfPathMissing: true})
	if err != nil {
		t.Fatalf("install the CloudNativePG CRD: %v", err)
	}
	restartManager(t)
	t.Cleanup(func() {
		for _, crd := range crds {
			_ = k8sClient.Delete(ctx, crd)
			eventually(t, time.Minute, "CRD deleted", func() error {
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{}); !apierrors.IsNotFound(err) {
					return fmt.Errorf("still there (%v)", err)
				}
				return nil
			})
		}
		restartManager(t)
	})
}

func restartManager(t *testing.T) {
	t.Helper()
	stopManager()
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
}

func cnpgSample(t *testing.T, ns string, edit func(*clv1.ContractLucidity)) *clv1.ContractLucidity {
	t.Helper()
	return createSample(t, ns, "cloudnativepg", func(cl *clv1.ContractLucidity) {
		cl.Spec.Backup = nil
		if edit != nil {
			edit(cl)
		}
	})
}

// Without CloudNativePG's CRD the instance says what to install, and
// creates nothing that would need the database.
func TestCloudNativePGNotInstalledSaysWhatToInstall(t *testing.T) {
	ns := newNamespace(t)
	cl := cnpgSample(t, ns, nil)
	got := waitCondition(t, ns, cl.Name, clv1.ConditionDatabaseReady, metav1.ConditionFalse, clv1.ReasonCloudNativePGNotInstalled)
	c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionDatabaseReady)
	for _, want := range []string{"postgresql.cnpg.io/v1 Cluster", "CloudNativePG operator 1.27", "cnpg-1.27.1.yaml"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q lacks %q", c.Message, want)
		}
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonCloudNativePGNotInstalled)
	findEvent(t, ns, cl.Name, clv1.ReasonCloudNativePGNotInstalled, corev1.EventTypeWarning, "install")
	if err := k8sClient.Get(ctx, key(ns, MigrationJobName(cl, cl.Spec.Version)), &batchv1.Job{}); err == nil {
		t.Error("a migration Job without a database")
	}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-postgres"), &appsv1.StatefulSet{}); err == nil {
		t.Error("a managed PostgreSQL for a cloudNativePG instance")
	}
}

// The Cluster is accepted by CloudNativePG's own CRD schema (server-side
// apply checks every field); once CloudNativePG reports it ready and has
// written its application Secret, the migrations run and backend and
// worker connect to <name>-pg-rw with that Secret.
func TestCloudNativePGClusterConnectsTheApplication(t *testing.T) {
	installCloudNativePG(t)
	ns := newNamespace(t)
	cl := cnpgSample(t, ns, nil)
	name := cl.Name + "-pg"

	cluster := &unstructured.Unstructured{}
	cluster.SetGroupVersionKind(CloudNativePGClusterGVK)
	waitFor(t, cluster, key(ns, name), nil)
	for path, want := range map[string]any{
		"spec.instances":                      int64(3),
		"spec.imageName":                      DefaultCloudNativePGImage,
		"spec.storage.size":                   "20Gi",
		"spec.bootstrap.initdb.database":      PostgresAppDB,
		"spec.bootstrap.initdb.owner":         PostgresAppUser,
		"spec.affinity.topologyKey":           "kubernetes.io/hostname",
		"spec.postgresql.parameters":          map[string]any{"max_connections": "200"},
		"spec.affinity.enablePodAntiAffinity": true,
	} {
		got, _, _ := unstructured.NestedFieldNoCopy(cluster.Object, strings.Split(path, ".")...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	sql, _, _ := unstructured.NestedStringSlice(cluster.Object, "spec", "bootstrap", "initdb", "postInitApplicationSQL")
	if strings.Join(sql, ";") != "CREATE EXTENSION IF NOT EXISTS vector;CREATE EXTENSION IF NOT EXISTS pgcrypto" {
		t.Errorf("postInitApplicationSQL %q", sql)
	}
	if len(cluster.GetOwnerReferences()) != 0 || cluster.GetLabels()[LabelName] != "" || cluster.GetLabels()[LabelInstance] != cl.Name {
		t.Errorf("Cluster owners %v (it outlives the instance by default), labels %v", cluster.GetOwnerReferences(), cluster.GetLabels())
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDatabaseReady, metav1.ConditionFalse, "Starting")
	waitCondition(t, ns, cl.Name, clv1.ConditionMigrationsReady, metav1.ConditionFalse, "Waiting")
	if err := k8sClient.Get(ctx, key(ns, MigrationJobName(cl, cl.Spec.Version)), &batchv1.Job{}); err == nil {
		t.Fatal("the migration Job runs before CloudNativePG wrote the credentials")
	}

	// CloudNativePG bootstraps the Cluster: its Secret, then its status.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-app", Labels: map[string]string{"cnpg.io/cluster": name}},
		Data: map[string][]byte{"username": []byte(PostgresAppUser), "password": []byte("generated-by-cnpg"), "dbname": []byte(PostgresAppDB),
			"host": []byte(name + "-rw"), "port": []byte("5432")}}
	if err := k8sClient.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDatabaseReady, metav1.ConditionFalse, "NotReady")
	setStatus(t, cluster, func() {
		cluster.Object["status"] = map[string]any{
			"instances": int64(3), "readyInstances": int64(3), "currentPrimary": name + "-1", "phase": "Cluster in healthy state",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ClusterIsReady",
				"message": "Cluster is Ready", "lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)}},
		}
	})
	got := waitCondition(t, ns, cl.Name, clv1.ConditionDatabaseReady, metav1.ConditionTrue, "Ready")
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionDatabaseReady); !strings.Contains(c.Message, "3 of 3 instances ready, primary "+name+"-1") {
		t.Errorf("DatabaseReady message %q", c.Message)
	}
	if p := got.Status.Components.Postgres; p.Ready != 3 || p.Desired != 3 {
		t.Errorf("status.components.postgres %+v", p)
	}

	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	cm := &corev1.ConfigMap{}
	waitFor(t, cm, key(ns, cl.Name+"-config"), nil)
	if cm.Data["POSTGRES_HOST"] != name+"-rw" || cm.Data["POSTGRES_PORT"] != "5432" || cm.Data["POSTGRES_SSLMODE"] != "require" {
		t.Errorf("ConfigMap database settings: host %q port %q sslmode %q", cm.Data["POSTGRES_HOST"], cm.Data["POSTGRES_PORT"], cm.Data["POSTGRES_SSLMODE"])
	}
	for _, component := range []string{ComponentBackend, ComponentWorker} {
		dep := &appsv1.Deployment{}
		waitFor(t, dep, key(ns, cl.Name+"-"+component), nil)
		refs := map[string]string{}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				refs[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
			}
		}
		for env, want := range map[string]string{"POSTGRES_USER": name + "-app/username", "POSTGRES_PASSWORD": name + "-app/password", "POSTGRES_DB": name + "-app/dbname"} {
			if refs[env] != want {
				t.Errorf("%s: %s from %q, want %q", component, env, refs[env], want)
			}
		}
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, cl.Name+"-worker"), func() error {
		for _, r := range np.Spec.Egress {
			for _, p := range r.To {
				if p.PodSelector != nil && p.PodSelector.MatchLabels["cnpg.io/cluster"] == name && r.Ports[0].Port.IntValue() == 5432 {
					return nil
				}
			}
		}
		return errors.New("the worker may not reach the CloudNativePG pods")
	})

	// CloudNativePG rotates the password: backend and worker roll.
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, cl.Name+"-backend"), nil)
	hash := dep.Spec.Template.Annotations[AnnotationConfigHash]
	secret.Data["password"] = []byte("rotated")
	if err := k8sClient.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitFor(t, dep, key(ns, cl.Name+"-backend"), func() error {
		if dep.Spec.Template.Annotations[AnnotationConfigHash] == hash {
			return errors.New("the backend did not roll")
		}
		return nil
	})
}

// A passthrough field CloudNativePG's schema does not know is refused by
// the API server (not silently dropped), and the condition says so.
func TestCloudNativePGSchemaRefusesUnknownFields(t *testing.T) {
	installCloudNativePG(t)
	ns := newNamespace(t)
	cl := cnpgSample(t, ns, func(cl *clv1.ContractLucidity) {
		cl.Spec.Database.CloudNativePG.Affinity = &runtime.RawExtension{Raw: []byte(`{"enablePodAntiAfinity": true}`)}
	})
	got := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, "InvalidCloudNativePGSpec")
	if c := meta.FindStatusCondition(got.Status.Conditions, clv1.ConditionDegraded); !strings.Contains(c.Message, "enablePodAntiAfinity") {
		t.Errorf("message %q does not name the field", c.Message)
	}
}

// Exactly one of managed, external or cloudNativePG; and cloudNativePG is
// never switched on or off in place (the data would stay behind).
func TestCloudNativePGValidation(t *testing.T) {
	ns := newNamespace(t)
	for _, spec := range []map[string]any{
		{"managed": map[string]any{}, "cloudNativePG": map[string]any{}},
		{"external": map[string]any{"secretRef": map[string]any{"name": "db"}}, "cloudNativePG": map[string]any{}},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": clv1.GroupVersion.String(), "kind": "ContractLucidity",
			"metadata": map[string]any{"generateName": "bad-", "namespace": ns},
			"spec":     map[string]any{"database": spec},
		}}
		if err := k8sClient.Create(ctx, u); err == nil || !strings.Contains(err.Error(), "spec.database must set exactly one of managed, external or cloudNativePG") {
			t.Errorf("%v: %v", spec, err)
		}
	}
	for _, bad := range []struct{ yaml, want string }{
		{`{"instances": 10}`, "spec.database.cloudNativePG.instances"},
		{`{"storage": {"size": "100Mi"}}`, "spec.database.cloudNativePG.storage.size must be at least 1Gi"},
	} {
		cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "bad-"}}
		c := &clv1.CloudNativePGDatabase{}
		if err := jsonUnmarshal(bad.yaml, c); err != nil {
			t.Fatal(err)
		}
		cl.Spec.Database = &clv1.DatabaseSpec{CloudNativePG: c}
		if err := k8sClient.Create(ctx, cl); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v", bad.yaml, err)
		}
	}
	managed := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) { cl.Name, cl.Spec.Paused = "switch", true })
	managed.Spec.Database = &clv1.DatabaseSpec{CloudNativePG: &clv1.CloudNativePGDatabase{}}
	if err := k8sClient.Update(ctx, managed); err == nil || !strings.Contains(err.Error(), "cannot be switched on or off") {
		t.Errorf("switching a managed instance to cloudNativePG: %v", err)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
