// Package overlays tests config/overlays, config/instances and
// config/gitops: every kustomization builds (kustomize/api, as `kustomize
// build`) and its objects pass a server-side dry-run on a real
// kube-apiserver with the CRDs they need; `make deploy` applies without
// touching a tracked file; the GitOps objects point at paths that build,
// at the release, and their health checks (Argo CD's Lua, Flux's CEL)
// read the instance's conditions as the operator writes them.
package overlays

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/contract-lucidity/contract-lucidity/controllers"
)

// The CRDs of the other projects the overlays use, copied from their Go
// modules (hack/cert-manager-crds.sh, hack/prometheus-operator-crds.sh).
var (
	certManagerCRDDir = filepath.Join("..", "crds", "cert-manager-1.21.2")
	prometheusCRDDir  = filepath.Join("..", "crds", "prometheus-operator-0.85.0")
)

// kustomizations are every directory a user or a GitOps tool builds.
var kustomizations = []string{
	"config/default",
	"config/overlays/development",
	"config/overlays/production",
	"config/overlays/monitoring",
	"config/instances/production",
}

func root(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// build is `kustomize build dir` (dir relative to the repository root).
func build(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root(t), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// Through JSON: the API machinery wants int64 and float64.
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		objs = append(objs, u)
	}
	return objs
}

func assetsDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	out, err := exec.Command(filepath.Join(root(t), "hack", "k8s-binaries.sh"), "envtest").Output()
	if err != nil {
		t.Fatalf("hack/k8s-binaries.sh envtest: %v", err)
	}
	return strings.TrimSpace(string(out))
}

type apiServer struct {
	c          client.Client
	cfg        *rest.Config
	kubeconfig string
}

// startAPIServer starts kube-apiserver and etcd with cert-manager's and
// the Prometheus Operator's CRDs (not ours: the overlays install it).
func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	env := &envtest.Environment{
		BinaryAssetsDirectory: assetsDir(t),
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: []string{certManagerCRDDir, prometheusCRDDir}},
		ErrorIfCRDPathMissing: true,
	}
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
	return &apiServer{c: c, cfg: cfg, kubeconfig: kc}
}

func (s *apiServer) apply(ctx context.Context, u *unstructured.Unstructured, opts ...client.ApplyOption) error {
	return s.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
		append([]client.ApplyOption{client.FieldOwner("overlay-test"), client.ForceOwnership}, opts...)...)
}

func (s *apiServer) waitEstablished(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := s.c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
}

// TestOverlaysApplyToAPIServer builds each kustomization, creates its CRDs
// and Namespaces for real (other objects need them), and server-side
// dry-runs every other object: the API server's validation, including our
// CRD's schema and CEL rules and cert-manager's and the Prometheus
// Operator's schemas, checks them.
func TestOverlaysApplyToAPIServer(t *testing.T) {
	s := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			if len(objs) == 0 {
				t.Fatal("built nothing")
			}
			for _, u := range objs {
				switch u.GetKind() {
				case "CustomResourceDefinition":
					if err := s.apply(ctx, u); err != nil {
						t.Fatalf("apply CRD %s: %v", u.GetName(), err)
					}
					s.waitEstablished(t, ctx, u.GetName())
				case "Namespace":
					if err := s.apply(ctx, u); err != nil {
						t.Fatalf("apply Namespace %s: %v", u.GetName(), err)
					}
				}
			}
			for _, u := range objs {
				if k := u.GetKind(); k == "CustomResourceDefinition" || k == "Namespace" {
					continue
				}
				if err := s.apply(ctx, u, client.DryRunAll); err != nil {
					t.Errorf("server-side dry-run of %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
				}
			}
		})
	}
}

// The Argo CD health check applied on its own (server-side) to an
// existing argocd-cm adds its key and keeps the others.
func TestArgoCDHealthCheckAppliesToAnExistingArgocdCM(t *testing.T) {
	s := startAPIServer(t)
	ctx := context.Background()
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "argocd-cm", "namespace": "argocd"},
		"data":     map[string]any{"url": "https://argocd.example.com"}}}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "argocd"}}}
	for _, u := range []*unstructured.Unstructured{ns, cm} {
		if err := s.c.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root(t), "config/gitops/argocd/argocd-cm-health.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	patch := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &patch.Object); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner("kubectl")); err != nil {
		t.Fatalf("server-side apply of argocd-cm-health.yaml: %v", err)
	}
	got := &unstructured.Unstructured{}
	got.SetAPIVersion("v1")
	got.SetKind("ConfigMap")
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "argocd-cm"}, got); err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedStringMap(got.Object, "data")
	if data["url"] != "https://argocd.example.com" || !strings.Contains(data["resource.customizations.health.contractlucidity.io_ContractLucidity"], "hs.status") {
		t.Errorf("argocd-cm after the apply: %v", data)
	}
}

// What each overlay is for is in its output.
func TestOverlaysContent(t *testing.T) {
	find := func(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
		for _, u := range objs {
			if u.GetKind() == kind && (name == "" || u.GetName() == name) {
				return u
			}
		}
		return nil
	}
	manager := func(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		d := find(objs, "Deployment", "contract-lucidity-controller-manager")
		if d == nil {
			t.Fatal("no operator Deployment contract-lucidity-controller-manager")
		}
		return d
	}
	args := func(d *unstructured.Unstructured) []any {
		cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		a, _, _ := unstructured.NestedSlice(cs[0].(map[string]any), "args")
		return a
	}
	has := func(list []any, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}

	dev := build(t, "config/overlays/development")
	if !has(args(manager(t, dev)), "--debug") {
		t.Errorf("development: the operator does not log at debug level: %v", args(manager(t, dev)))
	}
	if cl := find(dev, "ContractLucidity", ""); cl == nil || cl.GetNamespace() != "contract-lucidity-dev" {
		t.Errorf("development: no instance in contract-lucidity-dev: %v", cl)
	}

	prod := build(t, "config/overlays/production")
	if r, _, _ := unstructured.NestedInt64(manager(t, prod).Object, "spec", "replicas"); r != 2 {
		t.Errorf("production: %d operator replicas, want 2", r)
	}
	if !has(args(manager(t, prod)), "--leader-elect") {
		t.Error("production: two replicas without leader election")
	}
	if find(prod, "PodDisruptionBudget", "contract-lucidity-controller-manager") == nil {
		t.Error("production: no PodDisruptionBudget for the operator")
	}
	issuer := find(prod, "ClusterIssuer", "")
	if issuer == nil {
		t.Fatal("production: no cert-manager ClusterIssuer")
	}
	inst := find(build(t, "config/instances/production"), "ContractLucidity", "")
	if inst == nil {
		t.Fatal("config/instances/production: no instance")
	}
	ref, _, _ := unstructured.NestedStringMap(inst.Object, "spec", "ingress", "tls", "issuerRef")
	if ref["kind"] != "ClusterIssuer" || ref["name"] != issuer.GetName() {
		t.Errorf("the production instance's issuerRef %v is not the overlay's ClusterIssuer %s", ref, issuer.GetName())
	}

	mon := build(t, "config/overlays/monitoring")
	sm, svc := find(mon, "ServiceMonitor", ""), find(mon, "Service", "contract-lucidity-operator-metrics")
	if sm == nil || svc == nil || find(mon, "PrometheusRule", "") == nil {
		t.Fatal("monitoring: no ServiceMonitor, metrics Service or PrometheusRule")
	}
	// The ServiceMonitor selects the metrics Service, which selects the operator's pods.
	smSel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range smSel {
		if svc.GetLabels()[k] != v {
			t.Errorf("monitoring: the ServiceMonitor's selector %v does not select the metrics Service (labels %v)", smSel, svc.GetLabels())
		}
	}
	svcSel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	podLabels, _, _ := unstructured.NestedStringMap(manager(t, mon).Object, "spec", "template", "metadata", "labels")
	for k, v := range svcSel {
		if podLabels[k] != v {
			t.Errorf("monitoring: the metrics Service's selector %v does not select the operator's pods (%v)", svcSel, podLabels)
		}
	}
	if !has(args(manager(t, mon)), "--metrics-bind-address=:8080") {
		t.Errorf("monitoring: the operator does not serve metrics on :8080: %v", args(manager(t, mon)))
	}

	// GitOps tools never prune the CRD (that deletes every instance).
	for _, dir := range kustomizations[:4] {
		crd := find(build(t, dir), "CustomResourceDefinition", "contractlucidities.contractlucidity.io")
		if crd == nil {
			t.Errorf("%s: no CRD", dir)
			continue
		}
		a := crd.GetAnnotations()
		if a["argocd.argoproj.io/sync-options"] != "Prune=false,Delete=false" || a["kustomize.toolkit.fluxcd.io/prune"] != "disabled" {
			t.Errorf("%s: the CRD may be pruned by Argo CD or Flux: annotations %v", dir, a)
		}
	}
}

// make deploy applies the operator at IMG to the cluster and leaves every
// tracked file as it was.
func TestMakeDeployLeavesTrackedFilesAlone(t *testing.T) {
	s := startAPIServer(t)
	kubectl := filepath.Join(assetsDir(t), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl of the test binaries: %v", err)
	}
	before := gitStatus(t)
	// -o manifests: the generated files are someone else's test (and other
	// packages read them while this one runs).
	cmd := exec.Command("make", "-s", "--no-print-directory", "-o", "manifests", "deploy", "IMG=registry.example/ops/operator:9.9.9", "KUBECTL="+kubectl)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make deploy: %v\n%s", err, out)
	}
	if after := gitStatus(t); after != before {
		t.Errorf("make deploy changed tracked files:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	d := &unstructured.Unstructured{}
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: "contract-lucidity-system", Name: "contract-lucidity-controller-manager"}, d); err != nil {
		t.Fatalf("make deploy did not create the operator: %v", err)
	}
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "registry.example/ops/operator:9.9.9" {
		t.Errorf("make deploy deployed %v, want IMG", img)
	}
}

func gitStatus(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	return string(out)
}
