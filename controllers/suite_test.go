/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// The envtest suite: a real etcd and kube-apiserver (no controllers, no
// kubelet), the operator's manager running in-process against it.
var (
	testEnv    *envtest.Environment
	k8sClient  client.Client // the test's own, uncounted, uncached client
	managerCfg *rest.Config  // the manager's config, with a request counter
	requests   = &requestCounter{}
	mgrMu      sync.Mutex
	stopMgr    context.CancelFunc
	mgrDone    chan struct{}
)

// requestCounter counts the manager's requests by verb and path.
type requestCounter struct {
	mu     sync.Mutex
	writes map[string]int // namespace -> non-GET requests
	log    []string       // "METHOD path" of every write
	gets   map[string]int // path -> GET requests
}

func (c *requestCounter) record(method, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes == nil {
		c.writes, c.gets = map[string]int{}, map[string]int{}
	}
	if method == http.MethodGet {
		c.gets[path]++
		return
	}
	ns := ""
	if i := strings.Index(path, "/namespaces/"); i >= 0 {
		ns = strings.SplitN(path[i+len("/namespaces/"):], "/", 2)[0]
	}
	c.writes[ns]++
	c.log = append(c.log, method+" "+path)
}

// WriteLog returns the writes for namespace ns.
func (c *requestCounter) WriteLog(ns string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.log {
		if strings.Contains(l, "/namespaces/"+ns+"/") {
			out = append(out, l)
		}
	}
	return out
}

// Writes returns the number of write requests the manager sent for namespace ns.
func (c *requestCounter) Writes(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes[ns]
}

// Gets returns the number of GET requests on path.
func (c *requestCounter) Gets(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[path]
}

type countingTransport struct {
	next http.RoundTripper
	c    *requestCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// Watches are GETs too; only writes and plain GETs matter here.
	t.c.record(r.Method, r.URL.Path)
	return t.next.RoundTrip(r)
}

func assetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	// hack/k8s-binaries.sh installs here; `go test ./controllers/` works without make.
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "contract-lucidity", "k8s", "1.37.2")
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// CL_TEST_LOG=1 shows the operator's log.
	if os.Getenv("CL_TEST_LOG") != "" {
		log.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, nil)))
	} else {
		log.SetLogger(logr.Discard())
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assetsDir(),
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest (binaries in %s; build them with hack/k8s-binaries.sh): %v\n", assetsDir(), err)
		return 1
	}
	defer func() {
		stopManager()
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The manager runs as a user bound to the ClusterRole generated from the
	// reconciler's RBAC markers, so a missing permission fails the suite
	// here and not first in a cluster.
	if err := bindOperatorRole(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "operator RBAC:", err)
		return 1
	}
	managerCfg = rest.CopyConfig(cfg)
	managerCfg.Impersonate = rest.ImpersonationConfig{UserName: operatorUser}
	managerCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, c: requests} })
	// The default client-side rate limit (QPS 20) would slow the suite down.
	managerCfg.QPS, managerCfg.Burst = 200, 400
	if err := startManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// operatorUser is the identity the manager runs as in the suite.
const operatorUser = "contract-lucidity-operator"

// bindOperatorRole creates config/rbac/role.yaml's ClusterRole and binds it
// to operatorUser.
func bindOperatorRole(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(b, role); err != nil {
		return fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	role.Name = "contract-lucidity-operator-test"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: operatorUser}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := k8sClient.Create(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// startManager starts the operator exactly as main.go does (minus leader
// election and the metrics listener).
func startManager() error {
	mgrMu.Lock()
	defer mgrMu.Unlock()
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(managerCfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A restarted manager registers the same controller name again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	r := &ContractLucidityReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   mgr.GetEventRecorder(FieldManager),
		RESTMapper: mgr.GetRESTMapper(),
		Rand:       rand.Reader,
		// Rotation tests play the kubelet: the files change at once.
		SecretPropagation: time.Second,
	}
	if err := r.SetupWithManager(mgr, ServiceMonitorServed(mgr.GetRESTMapper())); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	stopMgr, mgrDone = cancel, done
	return nil
}

func stopManager() {
	mgrMu.Lock()
	defer mgrMu.Unlock()
	if stopMgr != nil {
		stopMgr()
		<-mgrDone
		stopMgr = nil
	}
}

// reconciles is the number of successful reconciles so far (from the
// controller-runtime metrics registry).
func reconciles(t testing.TB) float64 {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "controller", "contractlucidity") && (labelIs(m, "result", "success") || labelIs(m, "result", "error") ||
				labelIs(m, "result", "requeue_after")) {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// eventually polls f every 100ms until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const wait = 30 * time.Second

// newNamespace creates a namespace for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cl-test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// getCL reads the instance.
func getCL(t testing.TB, ns, name string) *clv1.ContractLucidity {
	t.Helper()
	cl := &clv1.ContractLucidity{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitCondition waits until the instance's condition has status and, if
// given, reason.
func waitCondition(t testing.TB, ns, name, condType string, status metav1.ConditionStatus, reason string) *clv1.ContractLucidity {
	t.Helper()
	var cl *clv1.ContractLucidity
	eventually(t, wait, fmt.Sprintf("condition %s=%s %s", condType, status, reason), func() error {
		cl = getCL(t, ns, name)
		c := meta.FindStatusCondition(cl.Status.Conditions, condType)
		if c == nil {
			return fmt.Errorf("no %s condition in %+v", condType, cl.Status.Conditions)
		}
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("%s is %s/%s: %s", condType, c.Status, c.Reason, c.Message)
		}
		if c.ObservedGeneration != cl.Generation {
			return fmt.Errorf("%s observedGeneration %d, generation %d", condType, c.ObservedGeneration, cl.Generation)
		}
		return nil
	})
	return cl
}
