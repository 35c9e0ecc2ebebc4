// Package e2e runs the operator against a local cluster with a real
// kube-controller-manager, kube-scheduler and kwok-faked node
// (hack/local-cluster.sh), so Deployments, StatefulSets and Jobs really
// progress: the development sample must become Ready, and an edit of the
// custom resource must roll exactly the Deployment it affects.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
	"github.com/contract-lucidity/contract-lucidity/controllers"
)

const (
	namespace = "e2e"
	// readyTimeout is generous: on a loaded 2-core CI machine the whole
	// control plane shares the CPU with other test packages.
	readyTimeout = 8 * time.Minute
	pollInterval = time.Second
)

func TestMain(m *testing.M) {
	// The operator's and the clients' logs: warnings and errors only.
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

func TestSampleBecomesReadyAndAnEditRollsOnlyTheAffectedDeployment(t *testing.T) {
	cfg := startLocalCluster(t)
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(repoRoot(t), "config", "crd", "bases")},
		ErrorIfPathMissing: true,
	}); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	startOperator(t, cfg, scheme)

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	sample := readSample(t)
	sample.SetNamespace(namespace)
	start := time.Now()
	if err := c.Create(ctx, sample); err != nil {
		t.Fatalf("create the sample: %v", err)
	}
	key := client.ObjectKeyFromObject(sample)
	cl := &clv1.ContractLucidity{}

	t.Log("waiting for the sample to become Ready")
	waitReady(ctx, t, c, key)
	if err := c.Get(ctx, key, cl); err != nil {
		t.Fatal(err)
	}
	t.Logf("the sample became Ready in %s", time.Since(start).Round(time.Second))

	// The migration Job ran to completion (kwok's pod-complete stage
	// finishes the Job's pod, the real Job controller marks it Complete).
	var jobs batchv1.JobList
	if err := c.List(ctx, &jobs, client.InNamespace(namespace), client.MatchingLabels{controllers.LabelInstance: cl.Name}); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 || jobs.Items[0].Status.Succeeded < 1 {
		t.Errorf("want one succeeded migration Job, got %s", describeJobs(jobs.Items))
	}

	before := snapshotWorkloads(ctx, t, c, cl.Name)
	for _, name := range []string{"frontend", "backend", "worker", "redis"} {
		if _, ok := before[cl.Name+"-"+name]; !ok {
			t.Fatalf("no Deployment %s-%s; workloads: %v", cl.Name, name, keys(before))
		}
	}
	if _, ok := before["statefulset/"+cl.Name+"-postgres"]; !ok {
		t.Fatalf("no StatefulSet %s-postgres; workloads: %v", cl.Name, keys(before))
	}

	// Edit: one more environment variable for the backend only.
	if err := c.Get(ctx, key, cl); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cl.DeepCopy())
	cl.Spec.Backend.Env = append(cl.Spec.Backend.Env, corev1.EnvVar{Name: "E2E_EDIT", Value: "1"})
	if err := c.Patch(ctx, cl, patch); err != nil {
		t.Fatalf("edit the sample: %v", err)
	}
	t.Logf("edited spec.backend.env (generation %d); waiting for the rollout", cl.Generation)
	waitReady(ctx, t, c, key)

	backend := cl.Name + "-backend"
	var dep appsv1.Deployment
	err = wait.PollUntilContextTimeout(ctx, pollInterval, readyTimeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: backend}, &dep); err != nil {
			return false, err
		}
		return rolledOut(&dep), nil
	})
	if err != nil {
		t.Fatalf("backend Deployment did not finish rolling out: %v; status %+v", err, dep.Status)
	}
	if !slices.ContainsFunc(dep.Spec.Template.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "E2E_EDIT" }) {
		t.Errorf("backend pod template lacks the new variable E2E_EDIT")
	}

	after := snapshotWorkloads(ctx, t, c, cl.Name)
	for name, b := range before {
		a, ok := after[name]
		if !ok {
			t.Errorf("%s disappeared after the edit", name)
			continue
		}
		changed := a.generation != b.generation || a.template != b.template
		switch {
		case name == backend && !changed:
			t.Errorf("%s did not change after editing spec.backend.env (generation %d)", name, a.generation)
		case name == backend && slices.Equal(a.replicaSets, b.replicaSets):
			t.Errorf("%s did not roll: same ReplicaSets %v", name, a.replicaSets)
		case name != backend && changed:
			t.Errorf("%s changed (generation %d -> %d) although the edit concerned only the backend", name, b.generation, a.generation)
		case name != backend && !slices.Equal(a.replicaSets, b.replicaSets):
			t.Errorf("%s rolled (ReplicaSets %v -> %v) although the edit concerned only the backend", name, b.replicaSets, a.replicaSets)
		}
	}
}

// startOperator runs the operator's controller in-process, wired as main.go
// wires it (label-filtered caches, the same reconciler).
func startOperator(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("create manager: %v", err)
	}
	r := &controllers.ContractLucidityReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder(controllers.FieldManager),
		RESTMapper: mgr.GetRESTMapper(),
		Rand:       rand.Reader,
	}
	if err := r.SetupWithManager(mgr, controllers.ServiceMonitorServed(mgr.GetRESTMapper())); err != nil {
		t.Fatalf("set up the reconciler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// readSample decodes the development sample as it is, unstructured: the
// API server fills in the defaults, as for kubectl apply.
func readSample(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "samples", "contractlucidity_v1alpha1_contractlucidity.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatalf("decode the sample: %v", err)
	}
	if u.GetKind() != "ContractLucidity" {
		t.Fatalf("the sample is a %q, want a ContractLucidity", u.GetKind())
	}
	return u
}

// waitReady polls until Ready is True for the current generation.
func waitReady(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey) {
	t.Helper()
	cl := &clv1.ContractLucidity{}
	err := wait.PollUntilContextTimeout(ctx, pollInterval, readyTimeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, cl); err != nil {
			return false, err
		}
		cond := meta.FindStatusCondition(cl.Status.Conditions, clv1.ConditionReady)
		return cl.Status.ObservedGeneration == cl.Generation && cond != nil &&
			cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == cl.Generation, nil
	})
	if err != nil {
		t.Fatalf("%s not Ready: %v\n%s", key, err, diagnose(context.Background(), c, cl))
	}
}

type workload struct {
	generation  int64
	template    string   // hash of the pod template
	replicaSets []string // a Deployment's ReplicaSets (pod-template-hash)
}

// snapshotWorkloads records the instance's Deployments (by name) and
// StatefulSets ("statefulset/<name>").
func snapshotWorkloads(ctx context.Context, t *testing.T, c client.Client, instance string) map[string]workload {
	t.Helper()
	sel := client.MatchingLabels{controllers.LabelInstance: instance}
	out := map[string]workload{}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, client.InNamespace(namespace), sel); err != nil {
		t.Fatal(err)
	}
	var rss appsv1.ReplicaSetList
	if err := c.List(ctx, &rss, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		w := workload{generation: d.Generation, template: hashOf(t, d.Spec.Template)}
		for _, rs := range rss.Items {
			if metav1.IsControlledBy(&rs, &d) {
				w.replicaSets = append(w.replicaSets, rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey])
			}
		}
		sort.Strings(w.replicaSets)
		out[d.Name] = w
	}
	var stss appsv1.StatefulSetList
	if err := c.List(ctx, &stss, client.InNamespace(namespace), sel); err != nil {
		t.Fatal(err)
	}
	for _, s := range stss.Items {
		out["statefulset/"+s.Name] = workload{generation: s.Generation, template: hashOf(t, s.Spec.Template)}
	}
	return out
}

func rolledOut(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	return s.ObservedGeneration == d.Generation && s.UpdatedReplicas == want &&
		s.Replicas == want && s.AvailableReplicas == want
}

func hashOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func keys(m map[string]workload) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func describeJobs(jobs []batchv1.Job) string {
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "%s: active=%d succeeded=%d failed=%d; ", j.Name, j.Status.Active, j.Status.Succeeded, j.Status.Failed)
	}
	if b.Len() == 0 {
		return "no Jobs"
	}
	return b.String()
}

// diagnose describes the instance and its workloads for a failure message.
func diagnose(ctx context.Context, c client.Client, cl *clv1.ContractLucidity) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "generation %d, observedGeneration %d\n", cl.Generation, cl.Status.ObservedGeneration)
	for _, cond := range cl.Status.Conditions {
		fmt.Fprintf(&b, "  %s=%s (%s): %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	var deps appsv1.DeploymentList
	if c.List(ctx, &deps, client.InNamespace(cl.Namespace)) == nil {
		for _, d := range deps.Items {
			fmt.Fprintf(&b, "Deployment %s: generation %d status %+v\n", d.Name, d.Generation, d.Status)
		}
	}
	var stss appsv1.StatefulSetList
	if c.List(ctx, &stss, client.InNamespace(cl.Namespace)) == nil {
		for _, s := range stss.Items {
			fmt.Fprintf(&b, "StatefulSet %s: ready %d/%d\n", s.Name, s.Status.ReadyReplicas, ptr.Deref(s.Spec.Replicas, 1))
		}
	}
	var jobs batchv1.JobList
	if c.List(ctx, &jobs, client.InNamespace(cl.Namespace)) == nil {
		fmt.Fprintf(&b, "Jobs: %s\n", describeJobs(jobs.Items))
	}
	var pvcs corev1.PersistentVolumeClaimList
	if c.List(ctx, &pvcs, client.InNamespace(cl.Namespace)) == nil {
		for _, p := range pvcs.Items {
			fmt.Fprintf(&b, "PVC %s: %s\n", p.Name, p.Status.Phase)
		}
	}
	var pods corev1.PodList
	if c.List(ctx, &pods, client.InNamespace(cl.Namespace)) == nil {
		for _, p := range pods.Items {
			fmt.Fprintf(&b, "Pod %s: %s node=%q\n", p.Name, p.Status.Phase, p.Spec.NodeName)
			for _, cond := range p.Status.Conditions {
				if cond.Status != corev1.ConditionTrue {
					fmt.Fprintf(&b, "    %s=%s %s\n", cond.Type, cond.Status, cond.Message)
				}
			}
		}
	}
	var events corev1.EventList
	if c.List(ctx, &events, client.InNamespace(cl.Namespace)) == nil {
		for _, e := range events.Items {
			if e.Type == corev1.EventTypeWarning {
				fmt.Fprintf(&b, "Warning %s/%s %s: %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}
