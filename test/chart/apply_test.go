package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// assetsDir is where kube-apiserver and etcd are: KUBEBUILDER_ASSETS (set
// by `make test`) or the cache hack/k8s-binaries.sh fills.
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

func startAPIServer(t *testing.T) client.Client {
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
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRenderedObjectsApplyToAPIServer installs the rendered CRD for real,
// then server-side-applies every other rendered object (operator and
// instance) with dry-run, so the API server's validation, including the
// CRD's schema and CEL rules for the instance, checks them. The operator's
// pod template is also dry-run as a Pod in a namespace that enforces the
// restricted Pod Security Standard.
func TestRenderedObjectsApplyToAPIServer(t *testing.T) {
	c := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	for _, ns := range []string{releaseNamespace, "pss-restricted"} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if ns == "pss-restricted" {
			obj.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
		}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}

	docs := split(t, render(t, "-f", "testdata/values-instance.yaml", "--api-versions", crdAPIVersion))
	apply := func(d document, opts ...client.ApplyOption) error {
		u := &unstructured.Unstructured{Object: d.obj}
		return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			append([]client.ApplyOption{client.FieldOwner("chart-test"), client.ForceOwnership}, opts...)...)
	}

	crds := find(docs, "CustomResourceDefinition")
	if len(crds) == 0 {
		t.Fatal("no CRD rendered")
	}
	for _, d := range crds {
		if err := apply(d); err != nil {
			t.Fatalf("apply CRD %s: %v", d.name(), err)
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: d.name()}, &crd); err != nil {
				return false, err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", d.name(), err)
		}
	}

	kinds := map[string]bool{}
	for _, d := range docs {
		if d.kind() == "CustomResourceDefinition" {
			continue
		}
		kinds[d.kind()] = true
		if err := apply(d, client.DryRunAll); err != nil {
			t.Errorf("server-side dry-run apply of %s %s (%s): %v", d.kind(), d.name(), d.source, err)
		}
	}
	for _, k := range []string{"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "ContractLucidity"} {
		if !kinds[k] {
			t.Errorf("rendered output has no %s", k)
		}
	}

	deployments := find(docs, "Deployment")
	if len(deployments) != 1 {
		t.Fatalf("rendered %d Deployments, want 1", len(deployments))
	}
	tmpl := deployments[0].obj["spec"].(map[string]any)["template"].(map[string]any)
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "operator-pss-check", "namespace": "pss-restricted"},
		"spec":     tmpl["spec"],
	}}
	if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the operator's pod template violates the restricted Pod Security Standard: %v", err)
	}
	// The `helm test` pod too.
	tests := 0
	for _, d := range find(docs, "Pod") {
		ann, _ := d.obj["metadata"].(map[string]any)["annotations"].(map[string]any)
		if ann["helm.sh/hook"] != "test" {
			continue
		}
		tests++
		pod := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": d.name(), "namespace": "pss-restricted"},
			"spec":     d.obj["spec"],
		}}
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("the helm test pod %s violates the restricted Pod Security Standard: %v", d.name(), err)
		}
	}
	if tests == 0 {
		t.Error("no helm test pod rendered")
	}
	// Control: the namespace really enforces it.
	plain := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "pss-restricted"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if err := c.Create(ctx, plain, client.DryRunAll); err == nil {
		t.Errorf("a pod without a security context was admitted: the restricted namespace does not enforce")
	}
}
