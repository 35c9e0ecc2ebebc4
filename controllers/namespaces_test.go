/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func TestWatchNamespaces(t *testing.T) {
	for in, want := range map[string][]string{
		"":                      nil,
		" , ":                   nil,
		"team-a":                {"team-a"},
		"team-b, team-a,team-b": {"team-a", "team-b"},
	} {
		got, err := WatchNamespaces(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("WatchNamespaces(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := WatchNamespaces("team-a,Team_B"); err == nil || !strings.Contains(err.Error(), `"Team_B"`) {
		t.Errorf("a bad name: err %v", err)
	}
	if a, b := LeaderElectionID([]string{"a"}), LeaderElectionID([]string{"b"}); a == b || LeaderElectionID(nil) != "operator.contractlucidity.io" {
		t.Errorf("leader election ids %q %q %q", a, b, LeaderElectionID(nil))
	}
}

// clusterOnlyResources are the resources of config/rbac/role.yaml that a
// namespace-scoped operator does without (the chart leaves them out of its
// Roles): the cluster's ranges for the AI egress policy.
var clusterOnlyResources = []string{"servicecidrs", "endpointslices"}

// namespacedRules are config/rbac/role.yaml's rules minus clusterOnlyResources.
func namespacedRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(b, role); err != nil {
		t.Fatal(err)
	}
	var out []rbacv1.PolicyRule
	for _, r := range role.Rules {
		if !slices.ContainsFunc(r.Resources, func(s string) bool { return slices.Contains(clusterOnlyResources, s) }) {
			out = append(out, r)
		}
	}
	return out
}

// responseLog records the status of every request a client sends.
type responseLog struct {
	mu  sync.Mutex
	log []string // "STATUS METHOD path"
}

type responseRecorder struct {
	next http.RoundTripper
	log  *responseLog
}

func (rr responseRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rr.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	rr.log.mu.Lock()
	rr.log.log = append(rr.log.log, fmt.Sprintf("%d %s %s", status, req.Method, req.URL.Path))
	rr.log.mu.Unlock()
	return resp, err
}

// outside returns the requests that were refused or that reached beyond
// the namespace: anything but discovery (/api, /apis/<group>/<version>)
// and paths under /namespaces/<ns>/.
func (l *responseLog) outside(ns string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.log {
		status, path, _ := strings.Cut(e, " ")
		_, path, _ = strings.Cut(path, " ")
		segs := strings.Split(strings.Trim(path, "/"), "/")
		discovery := (segs[0] == "api" && len(segs) <= 2) || (segs[0] == "apis" && len(segs) <= 3)
		inNamespace := strings.Contains(path, "/namespaces/"+ns+"/")
		if status == "403" || (!discovery && !inNamespace) {
			out = append(out, e)
		}
	}
	return out
}

// A namespace-scoped operator (WATCH_NAMESPACE) runs with nothing but a
// Role in its namespace: it reconciles the instance there to Ready, never
// sends a request the Role does not allow or one beyond the namespace, and
// leaves an instance in another namespace alone.
func TestNamespaceScopedOperatorNeedsOnlyARole(t *testing.T) {
	// The suite's cluster-wide manager would reconcile both namespaces.
	stopManager()
	t.Cleanup(func() {
		if err := startManager(); err != nil {
			t.Errorf("restart the suite's manager: %v", err)
		}
	})
	watched, other := newNamespace(t), newNamespace(t)
	const user = "contract-lucidity-namespaced"
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "contract-lucidity-operator"}, Rules: namespacedRules(t)}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: watched, Name: "contract-lucidity-operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	log := &responseLog{}
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return responseRecorder{next: rt, log: log} })
	cfg.QPS, cfg.Burst = 200, 400
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	namespaces, err := WatchNamespaces(watched)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(namespaces...),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &ContractLucidityReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder(FieldManager),
		RESTMapper: mgr.GetRESTMapper(), Rand: rand.Reader, WatchNamespaces: namespaces,
	}
	if err := r.SetupWithManager(mgr, ServiceMonitorServed(mgr.GetRESTMapper())); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("namespace-scoped manager: %v", err)
		}
	})

	ignored := createSample(t, other, "development", nil)
	cl := createSample(t, watched, "development", nil)
	playCluster(t, watched, cl)
	waitCondition(t, watched, cl.Name, clv1.ConditionReady, metav1.ConditionTrue, "Available")
	c := waitCondition(t, watched, cl.Name, clv1.ConditionNetworkPoliciesReady, metav1.ConditionTrue, clv1.ReasonClusterRangesPartlyDetected)
	for _, cond := range c.Status.Conditions {
		if cond.Type == clv1.ConditionNetworkPoliciesReady && !strings.Contains(cond.Message, "namespace-scoped") {
			t.Errorf("NetworkPoliciesReady message %q does not say why the cluster's ranges were not read", cond.Message)
		}
	}
	settle(t, watched)

	if got := getCL(t, other, ignored.Name); len(got.Status.Conditions) != 0 {
		t.Errorf("the instance in the unwatched namespace was reconciled: %+v", got.Status.Conditions)
	}
	if err := k8sClient.Get(ctx, key(other, ignored.Name+"-config"), &corev1.ConfigMap{}); err == nil {
		t.Error("a ConfigMap was created in the unwatched namespace")
	}
	if out := log.outside(watched); len(out) > 0 {
		t.Errorf("requests refused or beyond namespace %s (%d):\n%s", watched, len(out), strings.Join(out[:min(len(out), 20)], "\n"))
	}
	log.mu.Lock()
	n := len(log.log)
	log.mu.Unlock()
	t.Logf("%d requests, all within namespace %s or discovery", n, watched)
}
