package chart

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
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

// previousChartCommit is main before this chart version: the chart as
// released at 0.1.0 (its instance needed a second `helm upgrade`).
const previousChartCommit = "de438614f71e28a6002d34f12c9ab2b4ba5e4515"

// cluster is a real kube-apiserver for helm: a client and a kubeconfig.
type cluster struct {
	c          client.Client
	cfg        *rest.Config
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	env := &envtest.Environment{BinaryAssetsDirectory: assetsDir(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{c: c, cfg: cfg, kubeconfig: kc}
}

// helm runs helm against the cluster.
func (k *cluster) helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append(args, "--kubeconfig", k.kubeconfig)...)
}

func (k *cluster) mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (k *cluster) instance(t *testing.T, ns, name string) *clv1.ContractLucidity {
	t.Helper()
	cl := &clv1.ContractLucidity{}
	if err := k.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cl); err != nil {
		t.Fatalf("instance %s/%s: %v", ns, name, err)
	}
	return cl
}

// runOperator runs the operator in-process as the chart's ServiceAccount
// (its RBAC is what the chart rendered) with the Deployment's
// --create-instance-from and WATCH_NAMESPACE, as the Deployment's pod
// would. It returns the address of its metrics endpoint.
func (k *cluster) runOperator(t *testing.T, ns, deployment string) string {
	t.Helper()
	ctx := context.Background()
	dep := &appsv1.Deployment{}
	if err := k.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: deployment}, dep); err != nil {
		t.Fatal(err)
	}
	var from string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--create-instance-from="); ok {
			from = v
		}
	}
	var watch string
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == controllers.EnvWatchNamespace {
			watch = e.Value
		}
	}
	namespaces, err := controllers.WatchNamespaces(watch)
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := freeAddr(t)
	cfg := rest.CopyConfig(k.cfg)
	sa := dep.Spec.Template.Spec.ServiceAccountName
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	scheme, err := controllers.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Cache: controllers.CacheOptions(namespaces...),
		Metrics: metricsserver.Options{BindAddress: metricsAddr}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &controllers.ContractLucidityReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder(controllers.FieldManager), RESTMapper: mgr.GetRESTMapper(), Rand: rand.Reader,
		WatchNamespaces: namespaces}
	if err := r.SetupWithManager(mgr, false); err != nil {
		t.Fatal(err)
	}
	if from != "" {
		cmNS, cmName, _ := strings.Cut(from, "/")
		if err := mgr.Add(&controllers.InstanceBootstrap{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
			ConfigMap: client.ObjectKey{Namespace: cmNS, Name: cmName}, Interval: 200 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("operator: %v", err)
		}
	})
	return metricsAddr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// crdServed waits until the CRD is established and discovery serves it:
// helm returns once it has created it, and the next step (an operator
// starting, a template checking Capabilities) needs it served.
func (k *cluster) crdServed(t *testing.T) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(k.cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the CRD is served", func(ctx context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := k.c.Get(ctx, client.ObjectKey{Name: "contractlucidities.contractlucidity.io"}, crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		established := false
		for _, c := range crd.Status.Conditions {
			established = established || (c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue)
		}
		if !established {
			return false, nil
		}
		_, err := dc.ServerResourcesForGroupVersion("contractlucidity.io/v1alpha1")
		return err == nil, nil
	})
}

func waitFor(t *testing.T, what string, f func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// One command on a fresh cluster gives a running instance: the operator
// the release installs creates it; the next upgrade adopts it into the
// release; uninstall keeps it and the CRD.
func TestOneCommandInstallGivesARunningInstance(t *testing.T) {
	k := startCluster(t)
	ctx := context.Background()
	out := k.mustHelm(t, "install", "cl", chartDir(t), "-n", releaseNamespace, "--create-namespace", "--set", "instance.enabled=true")
	if !strings.Contains(out, "created by the operator as it starts") {
		t.Errorf("NOTES do not say who creates the instance:\n%s", out)
	}
	k.crdServed(t)
	metrics := k.runOperator(t, releaseNamespace, "cl-contract-lucidity")
	waitFor(t, "the instance is created and reconciled", func(ctx context.Context) (bool, error) {
		cl := &clv1.ContractLucidity{}
		if err := k.c.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "contract-lucidity"}, cl); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return meta.IsStatusConditionTrue(cl.Status.Conditions, clv1.ConditionConfigReady), nil
	})
	before := k.instance(t, releaseNamespace, "contract-lucidity")
	k.helmTestPod(t, metrics)

	k.mustHelm(t, "upgrade", "cl", chartDir(t), "-n", releaseNamespace, "--reset-then-reuse-values")
	after := k.instance(t, releaseNamespace, "contract-lucidity")
	if after.UID != before.UID {
		t.Errorf("the upgrade replaced the instance: uid %s -> %s", before.UID, after.UID)
	}
	if manifest := k.mustHelm(t, "get", "manifest", "cl", "-n", releaseNamespace); !strings.Contains(manifest, "kind: ContractLucidity") ||
		strings.Contains(manifest, "cl-contract-lucidity-instance") {
		t.Errorf("after the upgrade the release should manage the instance itself (no bootstrap ConfigMap):\n%s", manifest)
	}
	if err := k.c.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "cl-contract-lucidity-instance"}, &corev1.ConfigMap{}); err == nil {
		t.Error("the bootstrap ConfigMap survived the upgrade")
	}

	k.mustHelm(t, "uninstall", "cl", "-n", releaseNamespace)
	if got := k.instance(t, releaseNamespace, "contract-lucidity"); got.UID != before.UID || !got.DeletionTimestamp.IsZero() {
		t.Errorf("helm uninstall deleted the instance")
	}
	if err := k.c.Get(ctx, client.ObjectKey{Name: "contractlucidities.contractlucidity.io"}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
		t.Errorf("helm uninstall deleted the CRD: %v", err)
	}
}

// helm upgrade from the previous chart version keeps every instance: one
// the old chart rendered and one created with kubectl.
func TestUpgradeFromPreviousChartKeepsEveryInstance(t *testing.T) {
	prev := filepath.Join(t.TempDir(), "previous")
	if err := os.MkdirAll(prev, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("sh", "-c", "git archive "+previousChartCommit+" charts/contract-lucidity | tar -x -C "+prev)
	archive.Dir = root(t)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("the previous chart (commit %s; a clone with its history is needed): %v\n%s", previousChartCommit, err, out)
	}
	prevChart := filepath.Join(prev, "charts", "contract-lucidity")

	k := startCluster(t)
	ctx := context.Background()
	k.mustHelm(t, "install", "cl", prevChart, "-n", releaseNamespace, "--create-namespace")
	k.crdServed(t)
	// The previous chart's two steps for an instance from values.
	k.mustHelm(t, "upgrade", "cl", prevChart, "-n", releaseNamespace, "--reuse-values", "--set", "instance.enabled=true")
	if err := k.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "contracts"}}); err != nil {
		t.Fatal(err)
	}
	manual := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: "contracts", Name: "manual"},
		Spec: clv1.ContractLuciditySpec{Environment: "development"}}
	if err := k.c.Create(ctx, manual); err != nil {
		t.Fatal(err)
	}
	uids := map[string]types.UID{
		"fromValues": k.instance(t, releaseNamespace, "contract-lucidity").UID,
		"manual":     manual.UID,
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k.c.Get(ctx, client.ObjectKey{Name: "contractlucidities.contractlucidity.io"}, crd); err != nil {
		t.Fatal(err)
	}

	k.mustHelm(t, "upgrade", "cl", chartDir(t), "-n", releaseNamespace, "--reset-then-reuse-values")
	if got := k.instance(t, releaseNamespace, "contract-lucidity"); got.UID != uids["fromValues"] || got.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("the chart's instance after the upgrade: uid %s (was %s), annotations %v", got.UID, uids["fromValues"], got.Annotations)
	}
	if got := k.instance(t, "contracts", "manual"); got.UID != uids["manual"] {
		t.Errorf("the kubectl-created instance was replaced")
	}
	after := &apiextensionsv1.CustomResourceDefinition{}
	if err := k.c.Get(ctx, client.ObjectKey{Name: crd.Name}, after); err != nil || after.UID != crd.UID {
		t.Errorf("the CRD was replaced or lost: %v", err)
	}
	if _, ok := after.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["overrides"]; !ok {
		t.Errorf("the upgrade did not upgrade the CRD (no spec.overrides)")
	}
}

// A CRD installed by `make install` (no Helm metadata): the install stops
// with the commands to adopt it, and --take-ownership with crds.adopt
// takes it over; with the CRD already served, instance.enabled renders the
// instance directly.
func TestCRDFromMakeInstallIsAdopted(t *testing.T) {
	k := startCluster(t)
	if _, err := envtest.InstallCRDs(k.cfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(root(t), "config", "crd", "bases")}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	_, err := k.helm(t, "install", "cl", chartDir(t), "-n", releaseNamespace, "--create-namespace")
	for _, want := range []string{"exists without Helm's ownership", "--take-ownership --set crds.adopt=true",
		"kubectl annotate crd contractlucidities.contractlucidity.io meta.helm.sh/release-name=cl meta.helm.sh/release-namespace=" + releaseNamespace} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("install over a make-install CRD: want an error with %q, got %v", want, err)
		}
	}
	k.mustHelm(t, "install", "cl", chartDir(t), "-n", releaseNamespace, "--create-namespace",
		"--take-ownership", "--set", "crds.adopt=true", "--set", "instance.enabled=true")
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k.c.Get(context.Background(), client.ObjectKey{Name: "contractlucidities.contractlucidity.io"}, crd); err != nil {
		t.Fatal(err)
	}
	if crd.Labels["app.kubernetes.io/managed-by"] != "Helm" || crd.Annotations["meta.helm.sh/release-name"] != "cl" {
		t.Errorf("the CRD was not adopted: labels %v annotations %v", crd.Labels, crd.Annotations)
	}
	// The CRD was served at install: Helm created the instance itself.
	k.instance(t, releaseNamespace, "contract-lucidity")
	// A later upgrade needs no flag.
	k.mustHelm(t, "upgrade", "cl", chartDir(t), "-n", releaseNamespace, "--reset-then-reuse-values")
}

// helmTestPod runs what the release's `helm test` pod runs (envtest has no
// kubelet): the operator binary with the pod's command and arguments,
// against the in-process operator's metrics instead of the Service.
func (k *cluster) helmTestPod(t *testing.T, metricsAddr string) {
	t.Helper()
	var pod *corev1.Pod
	for _, doc := range strings.Split(k.mustHelm(t, "get", "hooks", "cl", "-n", releaseNamespace), "\n---\n") {
		p := &corev1.Pod{}
		if err := yaml.Unmarshal([]byte(doc), p); err == nil && p.Kind == "Pod" && p.Annotations["helm.sh/hook"] == "test" {
			pod = p
		}
	}
	if pod == nil || len(pod.Spec.Containers) != 1 {
		t.Fatalf("the release has no helm test pod with one container: %+v", pod)
	}
	c := pod.Spec.Containers[0]
	if len(c.Command) != 2 || c.Command[0] != "/manager" || c.Command[1] != "probe" || len(c.Args) != 2 {
		t.Fatalf("helm test pod: command %v args %v, want /manager probe URL TEXT", c.Command, c.Args)
	}
	u, err := url.Parse(c.Args[0])
	if err != nil || !strings.HasSuffix(u.Hostname(), ".svc") {
		t.Fatalf("helm test pod: %q is not a Service URL: %v", c.Args[0], err)
	}
	u.Host = metricsAddr
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the operator: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "probe", u.String(), c.Args[1]).CombinedOutput(); err != nil {
		t.Errorf("helm test's probe %s %q fails against the operator: %v\n%s", u, c.Args[1], err, out)
	}
}

// A namespace-scoped release: the operator runs under the chart's Roles
// only (no ClusterRole), reconciles its namespace and ignores the others.
func TestNamespacedReleaseRunsUnderItsRoles(t *testing.T) {
	k := startCluster(t)
	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if err := k.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	k.mustHelm(t, "install", "cl", chartDir(t), "-n", releaseNamespace, "--create-namespace", "--set", "watchNamespaces={team-a}")
	k.crdServed(t)
	k.runOperator(t, releaseNamespace, "cl-contract-lucidity")
	for _, ns := range []string{"team-a", "team-b"} {
		cl := &clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "contracts"},
			Spec: clv1.ContractLuciditySpec{Environment: "development"}}
		if err := k.c.Create(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the watched namespace's instance is reconciled", func(ctx context.Context) (bool, error) {
		cl := k.instance(t, "team-a", "contracts")
		if c := meta.FindStatusCondition(cl.Status.Conditions, clv1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue {
			return false, fmt.Errorf("Degraded: %s", c.Message)
		}
		return meta.IsStatusConditionTrue(cl.Status.Conditions, clv1.ConditionConfigReady), nil
	})
	if got := k.instance(t, "team-b", "contracts"); len(got.Status.Conditions) != 0 {
		t.Errorf("the unwatched namespace's instance was reconciled: %+v", got.Status.Conditions)
	}
}
