/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

var ctx = context.Background()

// createSample creates a sample from config/samples in ns, optionally edited.
func createSample(t *testing.T, ns, sample string, edit func(*clv1.ContractLucidity)) *clv1.ContractLucidity {
	t.Helper()
	cl := loadSample(t, samples[sample])
	cl.Namespace, cl.UID = ns, ""
	if edit != nil {
		edit(cl)
	}
	if err := k8sClient.Create(ctx, cl); err != nil {
		t.Fatalf("create %s: %v", sample, err)
	}
	return cl
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// waitFor waits until obj exists and check (if any) passes.
func waitFor(t *testing.T, obj client.Object, k client.ObjectKey, check func() error) {
	t.Helper()
	eventually(t, wait, fmt.Sprintf("%T %s", obj, k), func() error {
		if err := k8sClient.Get(ctx, k, obj); err != nil {
			return err
		}
		if check != nil {
			return check()
		}
		return nil
	})
}

// markJobSucceeded plays the Job controller, which envtest does not run.
func markJobSucceeded(t *testing.T, ns, name string) {
	t.Helper()
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, name), nil)
	setStatus(t, job, func() {
		now := metav1.Now()
		job.Status.StartTime = &now
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "CompletionsReached"},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "CompletionsReached"},
		}
	})
}

// setStatus sets obj's status with set, re-reading obj on conflicts (the
// operator writes the same objects).
func setStatus(t *testing.T, obj client.Object, set func()) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		set()
		return k8sClient.Status().Update(ctx, obj)
	})
	if err != nil {
		t.Fatalf("set status of %s: %v", obj.GetName(), err)
	}
}

// updateCL edits the instance's spec, retrying when the operator's status
// writes got in between.
func updateCL(t *testing.T, ns, name string, edit func(*clv1.ContractLucidity)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cl := getCL(t, ns, name)
		edit(cl)
		return k8sClient.Update(ctx, cl)
	})
	if err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
}

// markJobFailed plays the Job controller giving up.
func markJobFailed(t *testing.T, ns, name string) {
	t.Helper()
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, name), nil)
	setStatus(t, job, func() {
		now := metav1.Now()
		job.Status.StartTime = &now
		job.Status.Failed = 7
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "BackoffLimitExceeded"},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now, Reason: "BackoffLimitExceeded"},
		}
	})
}

// markDeploymentAvailable plays the Deployment controller.
func markDeploymentAvailable(t *testing.T, ns, name string) {
	t.Helper()
	d := &appsv1.Deployment{}
	waitFor(t, d, key(ns, name), nil)
	setStatus(t, d, func() {
		n := ptr.Deref(d.Spec.Replicas, 1)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
	})
}

// instanceObjects lists every object labelled with the instance, by kind.
func instanceObjects(t *testing.T, ns, name string) map[string][]client.Object {
	t.Helper()
	lists := map[string]client.ObjectList{
		"Secret": &corev1.SecretList{}, "ConfigMap": &corev1.ConfigMapList{}, "Service": &corev1.ServiceList{},
		"ServiceAccount": &corev1.ServiceAccountList{}, "PersistentVolumeClaim": &corev1.PersistentVolumeClaimList{},
		"Deployment": &appsv1.DeploymentList{}, "StatefulSet": &appsv1.StatefulSetList{}, "Job": &batchv1.JobList{},
		"Ingress": &networkingv1.IngressList{}, "NetworkPolicy": &networkingv1.NetworkPolicyList{},
		"PodDisruptionBudget": &policyv1.PodDisruptionBudgetList{}, "HorizontalPodAutoscaler": &autoscalingv2.HorizontalPodAutoscalerList{},
	}
	out := map[string][]client.Object{}
	for kind, l := range lists {
		if err := k8sClient.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{LabelInstance: name}); err != nil {
			t.Fatal(err)
		}
		_ = meta.EachListItem(l, func(o runtime.Object) error {
			out[kind] = append(out[kind], o.(client.Object))
			return nil
		})
	}
	return out
}

func names(objs []client.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	return out
}

func TestInstanceCreatesEveryChildAndBecomesReady(t *testing.T) {
	ns := newNamespace(t)
	start := time.Now()
	cl := createSample(t, ns, "production", nil)
	name := cl.Name

	// Before the first migration: everything but backend and worker.
	waitCondition(t, ns, name, clv1.ConditionMigrationsReady, metav1.ConditionFalse, "Running")
	waitCondition(t, ns, name, clv1.ConditionBackendReady, metav1.ConditionFalse, "WaitingForMigrations")
	if err := k8sClient.Get(ctx, key(ns, name+"-backend"), &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("backend Deployment exists before the migration succeeded: %v", err)
	}
	t.Logf("CR created -> migration Job and everything before it applied: %s", time.Since(start).Round(time.Millisecond))
	migrated := time.Now()
	markJobSucceeded(t, ns, MigrationJobName(cl, "0.1.0"))
	waitCondition(t, ns, name, clv1.ConditionMigrationsReady, metav1.ConditionTrue, "Migrated")
	waitFor(t, &appsv1.Deployment{}, key(ns, name+"-backend"), nil)
	waitFor(t, &appsv1.Deployment{}, key(ns, name+"-worker"), nil)

	want := map[string][]string{
		"Secret":                  {"admin", "encryption", "jwt", "postgres", "redis"},
		"ConfigMap":               {"config", "postgres-init", "redis-config"},
		"Service":                 {"backend", "frontend", "postgres", "postgres-headless", "redis", "worker"},
		"ServiceAccount":          {"backend", "frontend", "postgres", "redis", "worker"},
		"PersistentVolumeClaim":   {"storage"},
		"Deployment":              {"backend", "frontend", "redis", "worker"},
		"StatefulSet":             {"postgres"},
		"Job":                     {"migrate-" + versionSlug("0.1.0")},
		"Ingress":                 {"frontend", "api", "login", "uploads"},
		"NetworkPolicy":           {"ai-egress", "allow-dns", "backend", "backend-metrics", "default-deny", "frontend", "migrate", "postgres", "redis", "worker", "worker-metrics"},
		"PodDisruptionBudget":     {"backend", "frontend", "worker"},
		"HorizontalPodAutoscaler": {"backend"},
	}
	var got map[string][]client.Object
	eventually(t, wait, "every child", func() error {
		got = instanceObjects(t, ns, name)
		for kind, suffixes := range want {
			var exp []string
			for _, s := range suffixes {
				if s == "" {
					exp = append(exp, name)
				} else {
					exp = append(exp, name+"-"+s)
				}
			}
			if g := names(got[kind]); !sameSet(g, exp) {
				return fmt.Errorf("%s: got %v, want %v", kind, g, exp)
			}
		}
		return nil
	})
	t.Logf("migration succeeded -> every child applied: %s; write requests so far: %d",
		time.Since(migrated).Round(time.Millisecond), requests.Writes(ns))
	live := getCL(t, ns, name)
	for kind, objs := range got {
		for _, o := range objs {
			for k, v := range Labels(live, o.GetLabels()[LabelComponent]) {
				if o.GetLabels()[k] != v {
					t.Errorf("%s %s: label %s=%q, want %q", kind, o.GetName(), k, o.GetLabels()[k], v)
				}
			}
			// Data survives the instance: generated Secrets and the storage PVC have no owner.
			survives := kind == "Secret" || kind == "PersistentVolumeClaim"
			if owned := metav1.IsControlledBy(o, live); owned == survives {
				t.Errorf("%s %s: controlled by the instance = %v, want %v", kind, o.GetName(), owned, !survives)
			}
			if !strings.HasPrefix(o.GetName(), name+"-") {
				t.Errorf("%s %s does not start with %s", kind, o.GetName(), name)
			}
		}
	}
	// Every pod template meets the restricted Pod Security Standard.
	for _, o := range append(got["Deployment"], got["StatefulSet"]...) {
		var ps corev1.PodSpec
		switch w := o.(type) {
		case *appsv1.Deployment:
			ps = w.Spec.Template.Spec
		case *appsv1.StatefulSet:
			ps = w.Spec.Template.Spec
		}
		if err := checkRestricted(ps); err != nil {
			t.Errorf("%s: %v", o.GetName(), err)
		}
	}

	// Play the cluster: workloads available, PVC bound => Ready.
	for _, c := range []string{"frontend", "backend", "worker", "redis"} {
		markDeploymentAvailable(t, ns, name+"-"+c)
	}
	sts := &appsv1.StatefulSet{}
	waitFor(t, sts, key(ns, name+"-postgres"), nil)
	setStatus(t, sts, func() {
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 1, UpdatedReplicas: 1}
	})
	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, pvc, key(ns, name+"-storage"), nil)
	setStatus(t, pvc, func() { pvc.Status.Phase = corev1.ClaimBound })
	live = waitCondition(t, ns, name, clv1.ConditionReady, metav1.ConditionTrue, "Available")
	waitCondition(t, ns, name, clv1.ConditionProgressing, metav1.ConditionFalse, "Stable")
	waitCondition(t, ns, name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
	if live.Status.ObservedGeneration != live.Generation {
		t.Errorf("observedGeneration %d, generation %d", live.Status.ObservedGeneration, live.Generation)
	}
	if live.Status.URL != "https://contracts.example.com" || live.Status.Version != "0.1.0" || live.Status.MigratedVersion != "0.1.0" {
		t.Errorf("status url/version/migratedVersion = %q/%q/%q", live.Status.URL, live.Status.Version, live.Status.MigratedVersion)
	}
	if c := live.Status.Components.Frontend; c.Ready != 2 || c.Desired != 2 {
		t.Errorf("frontend replicas %+v, want 2/2", c)
	}
	// No ServiceMonitor CRD in envtest: a condition says so.
	waitCondition(t, ns, name, clv1.ConditionServiceMonitorReady, metav1.ConditionFalse, clv1.ReasonCRDNotServed)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func checkRestricted(ps corev1.PodSpec) error {
	psc := ps.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		return errors.New("pod securityContext is not restricted")
	}
	if ptr.Deref(ps.AutomountServiceAccountToken, true) {
		return errors.New("service account token is mounted")
	}
	for _, c := range ps.Containers {
		sc := c.SecurityContext
		if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
			sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			return fmt.Errorf("container %s securityContext is not restricted", c.Name)
		}
	}
	return nil
}

func TestCELRulesRejectBadSpecs(t *testing.T) {
	ns := newNamespace(t)
	prod := func(extra string) string {
		return `environment: production
host: a.example.com
ingress: {enabled: true, tls: {secretName: t}}
` + extra
	}
	cases := []struct {
		name, spec, want string
	}{
		{"production without TLS", "environment: production\nhost: a.example.com", "production, which requires TLS"},
		{"production with CORS wildcard", prod(`cors: {origins: ["*"]}`), "spec.cors.origins must not contain '*'"},
		{"production with an http CORS origin", prod(`cors: {origins: ["https://a.example.com", "http://a.example.com"]}`), "spec.cors.origins must be https:// origins"},
		{"production with a schemeless CORS origin", prod(`cors: {origins: ["a.example.com"]}`), "spec.cors.origins must be https:// origins"},
		{"database managed and external", `database: {managed: {}, external: {secretRef: {name: db}}}`, "spec.database must set exactly one of managed, external or cloudNativePG"},
		{"database neither", `database: {}`, "spec.database must set exactly one of managed, external or cloudNativePG"},
		{"redis managed and external", `redis: {managed: {}, external: {secretRef: {name: r}}}`, "spec.redis must set exactly one of managed or external"},
		{"ingress without host", `ingress: {enabled: true}`, "spec.host is required when spec.ingress.enabled is true"},
		{"replicas too high", `backend: {replicas: 101}`, "spec.backend.replicas"},
		{"autoscaling min above max", `worker: {autoscaling: {minReplicas: 5, maxReplicas: 2}}`, "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"},
		{"access token TTL too short", `auth: {accessTokenTTL: 30s}`, "spec.auth.accessTokenTTL must be whole minutes between 1m and 24h"},
		{"refresh token TTL not whole days", `auth: {refreshTokenTTL: 36h}`, "spec.auth.refreshTokenTTL must be whole days"},
		{"login rate limit zero", `rateLimits: {loginPerMinutePerIP: 0}`, "spec.rateLimits.loginPerMinutePerIP"},
		{"upload size too large", `uploads: {maxSizeMB: 20000}`, "spec.uploads.maxSizeMB"},
		{"storage too small", `storage: {size: 100Mi}`, "spec.storage.size must be at least 1Gi"},
		{"database storage too small", `database: {managed: {storage: {size: 10Mi}}}`, "spec.database.managed.storage.size must be at least 1Gi"},
		{"egress CIDR invalid", `networkPolicy: {egressCIDRs: ["10.0.0.0/33"]}`, "spec.networkPolicy.egressCIDRs must be CIDRs"},
		{"cluster CIDR invalid", `networkPolicy: {clusterCIDRs: ["10.0.0.0/33"]}`, "spec.networkPolicy.clusterCIDRs must be network ranges"},
		{"cluster CIDR with host bits", `networkPolicy: {clusterCIDRs: ["10.1.2.3/8"]}`, "spec.networkPolicy.clusterCIDRs must be network ranges"},
		{"cluster CIDR the whole space", `networkPolicy: {clusterCIDRs: ["0.0.0.0/0"]}`, "spec.networkPolicy.clusterCIDRs must be network ranges"},
		{"AI endpoint with cidr and selector", `networkPolicy: {aiEgress: {endpoints: [{cidr: 10.0.0.0/24, podSelector: {matchLabels: {app: llm}}}]}}`, "either cidr (an address range) or namespaceSelector"},
		{"AI endpoint with neither", `networkPolicy: {aiEgress: {endpoints: [{ports: [8000]}]}}`, "either cidr (an address range) or namespaceSelector"},
		{"AI endpoint cidr invalid", `networkPolicy: {aiEgress: {endpoints: [{cidr: "10.0.0.1"}]}}`, "spec.networkPolicy.aiEgress.endpoints[].cidr must be a CIDR"},
		{"AI endpoint port out of range", `networkPolicy: {aiEgress: {endpoints: [{cidr: 10.0.0.0/24, ports: [70000]}]}}`, "spec.networkPolicy.aiEgress.endpoints[0].ports[0]"},
		{"trusted proxy invalid", `ingress: {trustedProxies: ["203.0.113.0"]}`, "spec.ingress.trustedProxies must be network ranges"},
		{"trusting every address", `ingress: {trustedProxies: ["::/0"]}`, "spec.ingress.trustedProxies must be network ranges"},
		{"DNS CIDR invalid", `networkPolicy: {dns: {cidrs: ["169.254.20.10"]}}`, "spec.networkPolicy.dns.cidrs must be CIDRs"},
		{"unknown environment", `environment: staging`, "spec.environment"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": clv1.GroupVersion.String(), "kind": "ContractLucidity",
				"metadata": map[string]any{"name": fmt.Sprintf("bad-%d", i), "namespace": ns},
				"spec":     spec,
			}}
			err := k8sClient.Create(ctx, u)
			if err == nil {
				t.Fatalf("accepted, want rejection containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rejected with %q, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("name too long", func(t *testing.T) {
		cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: strings.Repeat("a", 41)}}
		err := k8sClient.Create(ctx, cl)
		if err == nil || !strings.Contains(err.Error(), "at most 40 characters") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("development accepts http origins", func(t *testing.T) {
		createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
			cl.Name, cl.Spec.Paused = "dev-http-origin", true
			cl.Spec.CORS.Origins = []string{"http://localhost:3000"}
		})
	})
	t.Run("the samples are valid", func(t *testing.T) {
		for s := range samples {
			createSample(t, newNamespace(t), s, func(cl *clv1.ContractLucidity) { cl.Spec.Paused = true })
		}
	})
}

// TestCodeDefaultsMatchCRDDefaults: the builders' Defaulted gives the same
// spec for a file as the API server's defaulting does.
func TestCodeDefaultsMatchCRDDefaults(t *testing.T) {
	ns := newNamespace(t)
	for s, path := range samples {
		created := createSample(t, ns, s, func(cl *clv1.ContractLucidity) { cl.Spec.Paused = true })
		server := getCL(t, ns, created.Name)
		fromFile := Defaulted(loadSample(t, path))
		fromFile.Spec.Paused = true
		if got, want := Defaulted(server).Spec, fromFile.Spec; !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
			a, _ := yaml.Marshal(got)
			b, _ := yaml.Marshal(want)
			t.Errorf("%s: server-defaulted spec\n%s\ndiffers from code-defaulted spec\n%s", s, a, b)
		}
		// And an empty spec.
		empty := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "empty-" + s}, Spec: clv1.ContractLuciditySpec{Paused: true}}
		if err := k8sClient.Create(ctx, empty); err != nil {
			t.Fatal(err)
		}
		e := Defaulted(getCL(t, ns, empty.Name)).Spec
		w := Defaulted(&clv1.ContractLucidity{Spec: clv1.ContractLuciditySpec{Paused: true}}).Spec
		if !reflect.DeepEqual(normalize(t, e), normalize(t, w)) {
			a, _ := yaml.Marshal(e)
			b, _ := yaml.Marshal(w)
			t.Errorf("empty spec: server\n%s\ncode\n%s", a, b)
		}
	}
}

// normalize round-trips through JSON so Quantity caches compare equal.
func normalize(t *testing.T, s clv1.ContractLuciditySpec) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// readyInstance creates the development sample and plays the migration Job.
func readyInstance(t *testing.T, edit func(*clv1.ContractLucidity)) (string, *clv1.ContractLucidity) {
	t.Helper()
	ns := newNamespace(t)
	cl := createSample(t, ns, "development", edit)
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	waitFor(t, &appsv1.Deployment{}, key(ns, cl.Name+"-worker"), nil)
	waitCondition(t, ns, cl.Name, clv1.ConditionMigrationsReady, metav1.ConditionTrue, "Migrated")
	return ns, cl
}

// settle waits until the manager stops writing for ns.
func settle(t *testing.T, ns string) {
	t.Helper()
	last, stable := requests.Writes(ns), 0
	eventually(t, wait, "no more writes", func() error {
		if n := requests.Writes(ns); n != last {
			last, stable = n, 0
			return errors.New("still writing")
		}
		stable++
		if stable < 25 { // 2.5s without a write
			return errors.New("settling")
		}
		return nil
	})
}

// poke triggers n reconciles of the instance (an annotation change) and
// waits until they ran.
func poke(t *testing.T, ns, name string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		before := reconciles(t)
		// A merge patch of one annotation: the spec is not re-serialised.
		cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"test/poke":"%d"}}}`, time.Now().UnixNano())
		if err := k8sClient.Patch(ctx, cl, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
		eventually(t, wait, "reconcile after poke", func() error {
			if reconciles(t) <= before {
				return errors.New("no reconcile yet")
			}
			return nil
		})
	}
}

func TestSteadyStateReconcileSendsNoWrites(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	settle(t, ns)
	before, logBefore := requests.Writes(ns), len(requests.WriteLog(ns))
	st := getCL(t, ns, cl.Name).Status
	poke(t, ns, cl.Name, 5)
	if d := requests.Writes(ns) - before; d != 0 {
		a, _ := yaml.Marshal(st)
		b, _ := yaml.Marshal(getCL(t, ns, cl.Name).Status)
		t.Logf("status before:\n%s\nafter:\n%s", a, b)
		t.Fatalf("5 steady-state reconciles sent %d write requests, want 0: %v", d, requests.WriteLog(ns)[logBefore:])
	}
	t.Logf("write requests per steady-state reconcile: 0 (5 reconciles)")
}

func TestMissingSecretDegradesRetriesDeletesNothingAndRecovers(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	settle(t, ns)
	before := instanceObjects(t, ns, cl.Name)

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "my-jwt"} })
	d := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, "SecretMissing")
	if c := meta.FindStatusCondition(d.Status.Conditions, clv1.ConditionDegraded); !strings.Contains(c.Message, `"my-jwt"`) {
		t.Errorf("Degraded message %q does not name the Secret", c.Message)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionReady, metav1.ConditionFalse, "SecretMissing")
	eventually(t, wait, "a SecretMissing event", func() error {
		evs := &eventsv1.EventList{}
		if err := k8sClient.List(ctx, evs, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "SecretMissing" && e.Regarding.Name == cl.Name && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no SecretMissing event among %d events", len(evs.Items))
	})
	// Retries: the operator keeps looking for the Secret (uncached GETs).
	path := "/api/v1/namespaces/" + ns + "/secrets/my-jwt"
	eventually(t, wait, "retries", func() error {
		if n := requests.Gets(path); n < 3 {
			return fmt.Errorf("%d lookups of the Secret so far", n)
		}
		return nil
	})
	after := instanceObjects(t, ns, cl.Name)
	for kind, objs := range before {
		if !sameSet(names(objs), names(after[kind])) {
			t.Errorf("%s changed while degraded: %v -> %v", kind, names(objs), names(after[kind]))
		}
	}

	// The Secret appears: the instance recovers and uses it as is.
	userSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-jwt"},
		Data: map[string][]byte{SecretKeyJWT: []byte(strings.Repeat("k", 48))}}
	if err := k8sClient.Create(ctx, userSecret); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "AsExpected")
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, cl.Name+"-backend"), func() error {
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "JWT_SECRET_KEY" && e.ValueFrom.SecretKeyRef.Name == "my-jwt" {
				return nil
			}
		}
		return errors.New("backend does not read JWT_SECRET_KEY from my-jwt yet")
	})
	got := &corev1.Secret{}
	waitFor(t, got, key(ns, "my-jwt"), nil)
	if got.ResourceVersion != userSecret.ResourceVersion || len(got.Labels) != 0 || len(got.OwnerReferences) != 0 {
		t.Errorf("the operator modified the user's Secret: %+v", got.ObjectMeta)
	}
	// The previously generated JWT Secret is not deleted.
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-jwt"), &corev1.Secret{}); err != nil {
		t.Errorf("generated JWT Secret: %v", err)
	}
}

func TestUserProvidedSecretIsUsedAndNothingIsGeneratedForIt(t *testing.T) {
	ns := newNamespace(t)
	key32 := strings.Repeat("ab", 32)
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mine"},
		Data: map[string][]byte{"enc": []byte(key32)}}
	if err := k8sClient.Create(ctx, user); err != nil {
		t.Fatal(err)
	}
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
		cl.Spec.Auth.EncryptionKeySecretRef = &clv1.SecretKeyRef{Name: "mine", Key: "enc"}
	})
	markJobSucceeded(t, ns, MigrationJobName(cl, "0.1.0"))
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, cl.Name+"-worker"), func() error {
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "ENCRYPTION_KEY" && e.ValueFrom.SecretKeyRef.Name == "mine" && e.ValueFrom.SecretKeyRef.Key == "enc" {
				return nil
			}
		}
		return errors.New("worker does not read ENCRYPTION_KEY from mine/enc")
	})
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-encryption"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("an encryption Secret was generated although one was provided: %v", err)
	}
	got := &corev1.Secret{}
	waitFor(t, got, key(ns, "mine"), nil)
	if got.ResourceVersion != user.ResourceVersion {
		t.Error("the operator modified the user's Secret")
	}
}

func TestDeletedChildrenComeBack(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.Host = "dev.example.com"
		cl.Spec.Ingress.Enabled = true
		cl.Spec.Backend.Autoscaling = &clv1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 3}
	})
	n := cl.Name
	// A generated Secret deleted after the data was initialised is not
	// re-created (secret_lifecycle_test.go).
	children := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n + "-config"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: n + "-backend"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: n + "-worker"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: n + "-storage"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: n + "-backend"}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: n + "-postgres"}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: n + "-login"}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: n + "-default-deny"}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: n + "-frontend"}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: n + "-backend"}},
	}
	for _, c := range children {
		c.SetNamespace(ns)
		waitFor(t, c, client.ObjectKeyFromObject(c), nil)
		oldUID := c.GetUID()
		if err := k8sClient.Delete(ctx, c); err != nil {
			t.Fatalf("delete %T %s: %v", c, c.GetName(), err)
		}
		if len(c.GetFinalizers()) > 0 {
			// kubernetes.io/pvc-protection: no controller removes it in envtest.
			patch := []byte(`{"metadata":{"finalizers":null}}`)
			if err := k8sClient.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
				t.Fatalf("remove finalizers of %s: %v", c.GetName(), err)
			}
		}
		fresh := c.DeepCopyObject().(client.Object)
		waitFor(t, fresh, client.ObjectKeyFromObject(c), func() error {
			if fresh.GetUID() == oldUID || fresh.GetDeletionTimestamp() != nil {
				return errors.New("not re-created yet")
			}
			return nil
		})
	}
	// A migration Job deleted before it finished comes back too.
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Version = "0.2.0" })
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, MigrationJobName(cl, "0.2.0")), nil)
	oldUID := job.UID
	if err := k8sClient.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, job, key(ns, MigrationJobName(cl, "0.2.0")), func() error {
		if job.UID == oldUID {
			return errors.New("not re-created yet")
		}
		return nil
	})
}

// Drift: another writer changes fields the operator manages (a NetworkPolicy
// opened to everyone, a container image swapped by hand). The operator puts
// them back, keeps the fields it does not manage (another writer's
// annotation), and then goes quiet again.
func TestEditsToManagedFieldsAreReverted(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	settle(t, ns)
	n := cl.Name
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, n+"-postgres"), nil)
	wantIngress := np.Spec.Ingress
	if len(wantIngress) == 0 || len(wantIngress[0].From) == 0 {
		t.Fatalf("postgres policy has no restricted ingress: %+v", np.Spec)
	}
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, n+"-backend"), nil)
	wantImage := dep.Spec.Template.Spec.Containers[0].Image

	// An update (not an apply) by another client, as kubectl edit does.
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}} // allow from anywhere
	if err := k8sClient.Update(ctx, np, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"annotations":{"example.com/owner":"team-a"}},"spec":{"template":{"spec":{"containers":[{"name":"backend","image":"example.com/evil:latest"}]}}}}`)
	if err := k8sClient.Patch(ctx, dep, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, np, key(ns, n+"-postgres"), func() error {
		if !reflect.DeepEqual(np.Spec.Ingress, wantIngress) {
			return fmt.Errorf("postgres ingress still %+v", np.Spec.Ingress)
		}
		return nil
	})
	waitFor(t, dep, key(ns, n+"-backend"), func() error {
		if img := dep.Spec.Template.Spec.Containers[0].Image; img != wantImage {
			return fmt.Errorf("backend image still %s", img)
		}
		return nil
	})
	if dep.Annotations["example.com/owner"] != "team-a" {
		t.Errorf("another writer's annotation was removed: %v", dep.Annotations)
	}
	settle(t, ns)
	before := requests.Writes(ns)
	poke(t, ns, n, 3)
	if d := requests.Writes(ns) - before; d != 0 {
		t.Fatalf("after reverting drift, 3 reconciles sent %d writes, want 0", d)
	}
}

func TestGeneratedSecretsNeverChange(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	read := func() map[string]string {
		out := map[string]string{}
		for _, s := range []string{"jwt", "encryption", "admin", "postgres", "redis"} {
			sec := &corev1.Secret{}
			waitFor(t, sec, key(ns, cl.Name+"-"+s), nil)
			out[s] = sec.ResourceVersion + "|" + fmt.Sprint(sec.Data)
			for k, v := range sec.Data {
				if k != SecretKeyPGUser && len(v) < 24 {
					t.Errorf("%s/%s is only %d characters", sec.Name, k, len(v))
				}
			}
		}
		return out
	}
	first := read()
	poke(t, ns, cl.Name, 10)
	stopManager()
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	poke(t, ns, cl.Name, 3)
	if after := read(); !reflect.DeepEqual(first, after) {
		t.Fatal("generated Secrets changed across reconciles and a manager restart")
	}
	// The JWT key is 64 random bytes in hex, the encryption key 32.
	sec := &corev1.Secret{}
	waitFor(t, sec, key(ns, cl.Name+"-jwt"), nil)
	if len(sec.Data[SecretKeyJWT]) != 128 {
		t.Errorf("JWT key has %d hex characters, want 128", len(sec.Data[SecretKeyJWT]))
	}
	waitFor(t, sec, key(ns, cl.Name+"-encryption"), nil)
	if len(sec.Data[SecretKeyEncryption]) != 64 {
		t.Errorf("encryption key has %d hex characters, want 64", len(sec.Data[SecretKeyEncryption]))
	}
}

func TestPausedFreezesTheInstance(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	n := cl.Name
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Paused = true })
	waitCondition(t, ns, n, clv1.ConditionProgressing, metav1.ConditionFalse, "Paused")
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Frontend.Replicas = ptr.To[int32](3) })
	if err := k8sClient.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n + "-config"}}); err != nil {
		t.Fatal(err)
	}
	settle(t, ns)
	poke(t, ns, n, 2)
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, n+"-frontend"), nil)
	if r := ptr.Deref(dep.Spec.Replicas, 0); r != 1 {
		t.Errorf("paused instance's frontend scaled to %d", r)
	}
	if err := k8sClient.Get(ctx, key(ns, n+"-config"), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("paused instance re-created its ConfigMap: %v", err)
	}
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Paused = false })
	waitFor(t, dep, key(ns, n+"-frontend"), func() error {
		if ptr.Deref(dep.Spec.Replicas, 0) != 3 {
			return errors.New("not scaled yet")
		}
		return nil
	})
	waitFor(t, &corev1.ConfigMap{}, key(ns, n+"-config"), nil)
}

func TestMigrationGatesTheBackendRollout(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	n := cl.Name
	image := func(component string) string {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, n+"-"+component), nil)
		return d.Spec.Template.Spec.Containers[0].Image
	}
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Version = "0.2.0" })
	waitFor(t, &batchv1.Job{}, key(ns, MigrationJobName(cl, "0.2.0")), nil)
	waitCondition(t, ns, n, clv1.ConditionMigrationsReady, metav1.ConditionFalse, "Running")
	settle(t, ns)
	old, next := DefaultImageRepository+":0.1.0", DefaultImageRepository+":0.2.0"
	if b, w := image("backend"), image("worker"); b != old || w != old {
		t.Fatalf("backend/worker run %s/%s before the migration of 0.2.0 succeeded, want %s", b, w, old)
	}
	if v := getCL(t, ns, n).Status.Version; v != "0.1.0" {
		t.Errorf("status.version %q while migrating, want 0.1.0", v)
	}
	markJobSucceeded(t, ns, MigrationJobName(cl, "0.2.0"))
	eventually(t, wait, "backend and worker at 0.2.0", func() error {
		if b, w := image("backend"), image("worker"); b != next || w != next {
			return fmt.Errorf("backend %s, worker %s", b, w)
		}
		return nil
	})
	waitCondition(t, ns, n, clv1.ConditionMigrationsReady, metav1.ConditionTrue, "Migrated")
	if st := getCL(t, ns, n).Status; st.MigratedVersion != "0.2.0" {
		t.Errorf("status.migratedVersion %q", st.MigratedVersion)
	}

	// A failed migration degrades the instance; backend and worker stay,
	// the rest is still reconciled (the frontend follows spec.version).
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.Version = "0.3.0" })
	markJobFailed(t, ns, MigrationJobName(cl, "0.3.0"))
	waitCondition(t, ns, n, clv1.ConditionDegraded, metav1.ConditionTrue, "MigrationFailed")
	eventually(t, wait, "frontend at 0.3.0", func() error {
		if f := image("frontend"); f != DefaultImageRepository+":0.3.0" {
			return fmt.Errorf("frontend %s", f)
		}
		return nil
	})
	if b := image("backend"); b != next {
		t.Errorf("backend %s after a failed migration, want %s", b, next)
	}
}

func TestReadWriteOnceStorageCoLocatesBackendAndWorker(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) { cl.Spec.Storage.AccessMode = corev1.ReadWriteOnce })
	waitCondition(t, ns, cl.Name, "CoLocated", metav1.ConditionTrue, "ReadWriteOnceStorage")
	for _, c := range []string{"backend", "worker"} {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, cl.Name+"-"+c), nil)
		a := d.Spec.Template.Spec.Affinity
		if a == nil || a.PodAffinity == nil || len(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 ||
			a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != corev1.LabelHostname {
			t.Errorf("%s has no required same-node pod affinity: %+v", c, a)
		}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	waitFor(t, pvc, key(ns, cl.Name+"-storage"), nil)
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("storage access modes %v", pvc.Spec.AccessModes)
	}
}

func TestDeletionKeepsDataUnlessOptedIn(t *testing.T) {
	for _, deleteData := range []bool{false, true} {
		t.Run(fmt.Sprintf("deleteData=%v", deleteData), func(t *testing.T) {
			ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
				cl.Spec.DeletionPolicy = clv1.DeletionPolicySpec{DeleteData: deleteData, DeleteSecrets: deleteData}
			})
			live := getCL(t, ns, cl.Name)
			pvc, sec := &corev1.PersistentVolumeClaim{}, &corev1.Secret{}
			hasOwner := func(o client.Object) func() error {
				return func() error {
					if metav1.IsControlledBy(o, live) != deleteData {
						return fmt.Errorf("%s owned=%v, want %v", o.GetName(), !deleteData, deleteData)
					}
					return nil
				}
			}
			waitFor(t, pvc, key(ns, cl.Name+"-storage"), hasOwner(pvc))
			waitFor(t, sec, key(ns, cl.Name+"-postgres"), hasOwner(sec))
			sts := &appsv1.StatefulSet{}
			waitFor(t, sts, key(ns, cl.Name+"-postgres"), nil)
			want := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
			if deleteData {
				want = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
			}
			if got := sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted; got != want {
				t.Errorf("StatefulSet PVC retention whenDeleted=%s, want %s", got, want)
			}
		})
	}
}

func TestServiceMonitorAppliedOnceTheCRDIsServed(t *testing.T) {
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "servicemonitors", Singular: "servicemonitor",
				Kind: "ServiceMonitor", ListKind: "ServiceMonitorList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
	if err := k8sClient.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, crd) })
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) { cl.Spec.Monitoring.ServiceMonitor = true })
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(ServiceMonitorGVK)
	eventually(t, wait, "ServiceMonitor", func() error {
		poke(t, ns, cl.Name, 1)
		return k8sClient.Get(ctx, key(ns, cl.Name+"-metrics"), sm)
	})
	waitCondition(t, ns, cl.Name, clv1.ConditionServiceMonitorReady, metav1.ConditionTrue, clv1.ReasonApplied)
	if owners := sm.GetOwnerReferences(); len(owners) != 1 || owners[0].Name != cl.Name {
		t.Errorf("ServiceMonitor owners %+v", owners)
	}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-worker"), &corev1.Service{}); err != nil {
		t.Errorf("worker metrics Service: %v", err)
	}
	checkMetricsPorts(t, ns, cl.Name, sm)

	// Turning monitoring off removes what it added.
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Monitoring.ServiceMonitor = false })
	for name, o := range map[string]client.Object{
		cl.Name + "-metrics":         sm,
		cl.Name + "-worker":          &corev1.Service{},
		cl.Name + "-worker-metrics":  &networkingv1.NetworkPolicy{},
		cl.Name + "-backend-metrics": &networkingv1.NetworkPolicy{},
	} {
		eventually(t, wait, fmt.Sprintf("%T %s removed", o, name), func() error {
			if err := k8sClient.Get(ctx, key(ns, name), o); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
	eventually(t, wait, "ServiceMonitorReady condition removed", func() error {
		if c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionServiceMonitorReady); c != nil {
			return fmt.Errorf("still %s/%s", c.Status, c.Reason)
		}
		return nil
	})
	if c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("degraded after turning monitoring off: %s", c.Message)
	}
}

// Growing spec.database.managed.storage.size grows the database's PVC (the
// StatefulSet's volumeClaimTemplate is immutable and keeps its size), a
// StorageClass without volume expansion is reported, and shrinking or
// changing the class is refused at admission with a message that says why.
func TestDatabaseVolumeGrowsAndNeverShrinks(t *testing.T) {
	for _, expandable := range []bool{true, false} {
		t.Run(fmt.Sprintf("allowVolumeExpansion=%v", expandable), func(t *testing.T) {
			sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "cl-test-"},
				Provisioner: "example.com/none", AllowVolumeExpansion: ptr.To(expandable)}
			if err := k8sClient.Create(ctx, sc); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), sc) })
			ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
				cl.Spec.Database = &clv1.DatabaseSpec{Managed: &clv1.ManagedDatabase{Storage: clv1.VolumeSpec{
					Size: ptr.To(resource.MustParse("20Gi")), StorageClassName: ptr.To(sc.Name)}}}
			})
			n := cl.Name
			sts := &appsv1.StatefulSet{}
			waitFor(t, sts, key(ns, n+"-postgres"), nil)
			// The claim the StatefulSet controller would have made, bound.
			tmpl := sts.Spec.VolumeClaimTemplates[0]
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data-" + n + "-postgres-0", Labels: tmpl.Labels},
				Spec: *tmpl.Spec.DeepCopy()}
			pvc.Spec.VolumeName = "pv-" + ns
			if err := k8sClient.Create(ctx, pvc); err != nil {
				t.Fatal(err)
			}
			setStatus(t, pvc, func() {
				pvc.Status.Phase = corev1.ClaimBound
				pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}
			})

			updateCL(t, ns, n, func(cl *clv1.ContractLucidity) {
				cl.Spec.Database.Managed.Storage.Size = ptr.To(resource.MustParse("30Gi"))
			})
			if expandable {
				live := waitCondition(t, ns, n, clv1.ConditionDatabaseVolume, metav1.ConditionTrue, "Sized")
				waitFor(t, pvc, client.ObjectKeyFromObject(pvc), func() error {
					if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "30Gi" {
						return fmt.Errorf("claim requests %s", q.String())
					}
					return nil
				})
				if c := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
					t.Fatalf("degraded after growing: %s", c.Message)
				}
			} else {
				live := waitCondition(t, ns, n, clv1.ConditionDatabaseVolume, metav1.ConditionFalse, "GrowRefused")
				if c := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDatabaseVolume); !strings.Contains(c.Message, "allowVolumeExpansion") {
					t.Errorf("message %q does not say what to change", c.Message)
				}
			}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
				t.Fatal(err)
			}
			if q := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "20Gi" {
				t.Errorf("volumeClaimTemplate changed to %s", q.String())
			}
			if c := meta.FindStatusCondition(getCL(t, ns, n).Status.Conditions, clv1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
				t.Errorf("degraded: %s", c.Message)
			}

			// Admission refuses shrinking and a class change.
			for _, tc := range []struct {
				edit func(*clv1.ContractLucidity)
				msg  string
			}{
				{func(cl *clv1.ContractLucidity) {
					cl.Spec.Database.Managed.Storage.Size = ptr.To(resource.MustParse("10Gi"))
				}, "cannot shrink"},
				{func(cl *clv1.ContractLucidity) { cl.Spec.Database.Managed.Storage.StorageClassName = ptr.To("other") }, "storageClassName cannot change"},
				{func(cl *clv1.ContractLucidity) { cl.Spec.Storage.Size = ptr.To(resource.MustParse("1Gi")) }, "spec.storage.size cannot shrink"},
			} {
				live := getCL(t, ns, n)
				tc.edit(live)
				err := k8sClient.Update(ctx, live)
				if err == nil || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("update: %v, want an error saying %q", err, tc.msg)
				}
			}
		})
	}
}

// Switching a running instance from the managed PostgreSQL and Redis to
// external ones removes the managed workloads and their Services, and keeps
// the database's data volume and generated Secrets.
func TestSwitchingToExternalServicesRemovesTheManagedOnes(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	n := cl.Name
	for _, o := range []client.Object{&appsv1.StatefulSet{}, &corev1.Service{}, &appsv1.Deployment{}} {
		name := n + "-postgres"
		if _, ok := o.(*appsv1.Deployment); ok {
			name = n + "-redis"
		}
		waitFor(t, o, key(ns, name), nil)
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data-" + n + "-postgres-0"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if err := k8sClient.Create(ctx, pvc); err != nil { // what the StatefulSet controller would have made
		t.Fatal(err)
	}
	for name, data := range map[string]map[string][]byte{
		"db":    {"host": []byte("pg.example.com"), "user": []byte("app"), "password": []byte("pw"), "dbname": []byte("cl")},
		"cache": {"url": []byte("redis://redis.example.com:6379/0"), "password": []byte("pw")},
	} {
		if err := k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) {
		cl.Spec.Database = &clv1.DatabaseSpec{External: &clv1.ExternalDatabase{SecretRef: clv1.SecretRef{Name: "db"}}}
		cl.Spec.Redis = &clv1.RedisSpec{External: &clv1.ExternalRedis{SecretRef: clv1.SecretRef{Name: "cache"}}}
	})
	waitCondition(t, ns, n, clv1.ConditionDatabaseReady, metav1.ConditionTrue, "External")
	waitCondition(t, ns, n, clv1.ConditionRedisReady, metav1.ConditionTrue, "External")
	gone := map[string]client.Object{
		n + "-postgres":      &appsv1.StatefulSet{},
		n + "-postgres-init": &corev1.ConfigMap{},
		n + "-redis":         &appsv1.Deployment{},
	}
	for _, svc := range BuildPostgresServices(cl) {
		gone[svc.Name] = &corev1.Service{}
	}
	gone[BuildRedisService(cl).Name] = &corev1.Service{}
	for name, o := range gone {
		eventually(t, wait, name+" removed", func() error {
			if err := k8sClient.Get(ctx, key(ns, name), o); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T %s still there (%v)", o, name, err)
			}
			return nil
		})
	}
	for _, o := range []struct {
		obj  client.Object
		name string
	}{{&corev1.PersistentVolumeClaim{}, pvc.Name}, {&corev1.Secret{}, n + "-postgres"}, {&corev1.Secret{}, n + "-redis"},
		{&corev1.ConfigMap{}, n + "-config"}, {&appsv1.Deployment{}, n + "-backend"}} {
		if err := k8sClient.Get(ctx, key(ns, o.name), o.obj); err != nil {
			t.Errorf("%T %s: %v", o.obj, o.name, err)
		}
	}
}

func TestExternalDatabaseSecretWithoutPasswordDegrades(t *testing.T) {
	ns := newNamespace(t)
	db := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Data: map[string][]byte{"host": []byte("pg.example.com"), "user": []byte("app"), "dbname": []byte("cl")}}
	if err := k8sClient.Create(ctx, db); err != nil {
		t.Fatal(err)
	}
	cl := createSample(t, ns, "development", func(cl *clv1.ContractLucidity) {
		cl.Spec.Database = &clv1.DatabaseSpec{External: &clv1.ExternalDatabase{SecretRef: clv1.SecretRef{Name: "db"}}}
	})
	live := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, "SecretKeyMissing")
	if c := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDegraded); !strings.Contains(c.Message, `"password"`) {
		t.Errorf("message %q does not name the missing key", c.Message)
	}
	db.Data["password"] = []byte("secret-password")
	if err := k8sClient.Update(ctx, db); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionDatabaseReady, metav1.ConditionTrue, "External")
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-postgres"), &appsv1.StatefulSet{}); !apierrors.IsNotFound(err) {
		t.Errorf("a managed PostgreSQL exists for an external database: %v", err)
	}
	if err := k8sClient.Get(ctx, key(ns, cl.Name+"-postgres"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("a PostgreSQL Secret was generated for an external database: %v", err)
	}
	job := &batchv1.Job{}
	waitFor(t, job, key(ns, MigrationJobName(cl, "0.1.0")), nil)
	env := map[string]string{}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if env["POSTGRES_HOST"] != "db/host" || env["POSTGRES_PASSWORD"] != "db/password" {
		t.Errorf("migration Job database env %v", env)
	}
}

// checkMetricsPorts: the backend's metrics are scraped on their own port,
// which only the monitoring namespace may reach; the API port is not scraped.
func checkMetricsPorts(t *testing.T, ns, name string, sm *unstructured.Unstructured) {
	t.Helper()
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	for _, e := range endpoints {
		if port := e.(map[string]any)["port"]; port != "metrics" {
			t.Errorf("ServiceMonitor scrapes port %v, want only the metrics ports", port)
		}
	}
	svc := &corev1.Service{}
	waitFor(t, svc, key(ns, name+"-backend"), nil)
	ports := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.Port
	}
	if ports["metrics"] != PortBackendMetrics || ports["http"] != PortBackend {
		t.Errorf("backend Service ports %v, want http %d and metrics %d", ports, PortBackend, PortBackendMetrics)
	}
	dep := &appsv1.Deployment{}
	waitFor(t, dep, key(ns, name+"-backend"), nil)
	var named []string
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		named = append(named, fmt.Sprintf("%s/%d", p.Name, p.ContainerPort))
	}
	if !sameSet(named, []string{fmt.Sprintf("http/%d", PortBackend), fmt.Sprintf("metrics/%d", PortBackendMetrics)}) {
		t.Errorf("backend container ports %v", named)
	}
	cm := &corev1.ConfigMap{}
	waitFor(t, cm, key(ns, name+"-config"), nil)
	if got := cm.Data["BACKEND_METRICS_ADDR"]; got != fmt.Sprintf(":%d", PortBackendMetrics) {
		t.Errorf("BACKEND_METRICS_ADDR %q", got)
	}
	policyPorts := func(np *networkingv1.NetworkPolicy) []string {
		var out []string
		for _, r := range np.Spec.Ingress {
			for _, p := range r.Ports {
				out = append(out, p.Port.String())
			}
		}
		return out
	}
	np := &networkingv1.NetworkPolicy{}
	waitFor(t, np, key(ns, name+"-backend-metrics"), nil)
	if got := policyPorts(np); !sameSet(got, []string{strconv.Itoa(PortBackendMetrics)}) {
		t.Errorf("backend-metrics policy opens ports %v to monitoring, want only %d", got, PortBackendMetrics)
	}
	if from := np.Spec.Ingress[0].From; len(from) != 1 || from[0].NamespaceSelector == nil ||
		from[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("backend-metrics policy admits %+v, want the monitoring namespace", from)
	}
	waitFor(t, np, key(ns, name+"-backend"), nil)
	if got := policyPorts(np); !sameSet(got, []string{strconv.Itoa(PortBackend)}) {
		t.Errorf("backend policy opens ports %v to the frontend, want only %d", got, PortBackend)
	}
}
