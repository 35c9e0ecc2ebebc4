package chart

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestHelmLint(t *testing.T) {
	for _, args := range [][]string{
		{"lint", "--strict", chartDir(t)},
		{"lint", "--strict", chartDir(t), "--set", "crds.enabled=false,metrics.enabled=false,rbac.create=false,serviceAccount.create=false"},
	} {
		if out, err := helm(t, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// goldenCases are representative value sets; their rendered output (minus
// what is generated from the Go markers: see withoutGenerated) is kept
// in testdata/<name>.golden so that a review shows what a change does.
var goldenCases = []struct {
	name string
	args []string
}{
	{"default", nil},
	{"instance", []string{"-f", "testdata/values-instance.yaml", "--api-versions", crdAPIVersion}},
	{"minimal", []string{"-f", "testdata/values-minimal.yaml"}},
	{"instance-only", []string{"-f", "testdata/values-instance-only.yaml", "--api-versions", crdAPIVersion}},
	// A first install: the CRD is not served, the operator creates the instance.
	{"first-install", []string{"-f", "testdata/values-instance.yaml"}},
	{"namespaced", []string{"--set", "watchNamespaces={team-a,team-b}"}},
}

// withoutGenerated replaces each CRD document by a one-line placeholder and
// the ClusterRole's rules by a comment: both are generated from the Go
// markers (config/), compared by TestRenderedCRDMatchesConfig and
// TestClusterRoleMatchesConfigRBAC, and would otherwise make every API
// change a chart golden change.
func withoutGenerated(t *testing.T, rendered string) string {
	t.Helper()
	parts := strings.Split(rendered, "\n---\n")
	for i, p := range parts {
		switch {
		case strings.Contains(p, "\nkind: CustomResourceDefinition\n"):
			var obj struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			_ = yaml.Unmarshal([]byte(strings.TrimPrefix(p, "---\n")), &obj)
			parts[i] = "# Source: contract-lucidity/templates/crds.yaml\n# CustomResourceDefinition " + obj.Metadata.Name +
				" (from config/crd/bases; see TestRenderedCRDMatchesConfig)"
		case strings.Contains(p, "\nkind: ClusterRole\n"):
			if head, _, ok := strings.Cut(p, "\nrules:\n"); ok {
				parts[i] = head + "\nrules: # from config/rbac/role.yaml; see TestClusterRoleMatchesConfigRBAC"
			}
		case strings.Contains(p, "\nkind: Role\n") && strings.Contains(p, "\n  name: cl-contract-lucidity-manager\n"):
			// watchNamespaces: the ClusterRole's rules in a Role.
			if head, _, ok := strings.Cut(p, "\nrules:\n"); ok {
				parts[i] = head + "\nrules: # from config/rbac/role.yaml; see TestNamespacedRBAC"
			}
		}
	}
	return strings.Join(parts, "\n---\n")
}

func TestTemplateGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got := withoutGenerated(t, render(t, tc.args...))
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./test/chart -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("helm template output differs from %s (run go test ./test/chart -update and review the diff):\n%s",
					path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first differing lines, enough to find the change.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  - " + wl + "\n  + " + gl + "\n")
			if shown++; shown == 10 {
				break
			}
		}
	}
	return b.String()
}

func readYAMLFiles(t *testing.T, pattern string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	var out []map[string]any
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, obj)
	}
	return out
}

func metadata(obj map[string]any) map[string]any {
	m, _ := obj["metadata"].(map[string]any)
	return m
}

func TestRenderedCRDMatchesConfig(t *testing.T) {
	want := readYAMLFiles(t, filepath.Join(root(t), "config", "crd", "bases", "*.yaml"))
	crds := find(split(t, render(t)), "CustomResourceDefinition")
	if len(crds) != len(want) {
		t.Fatalf("rendered %d CRDs, config/crd/bases has %d", len(crds), len(want))
	}
	byName := map[string]map[string]any{}
	for _, w := range want {
		byName[metadata(w)["name"].(string)] = w
	}
	for _, d := range crds {
		meta := metadata(d.obj)
		annotations, _ := meta["annotations"].(map[string]any)
		if annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s: annotation helm.sh/resource-policy = %v, want keep (crds.keep defaults to true)", d.name(), annotations["helm.sh/resource-policy"])
		}
		labels, _ := meta["labels"].(map[string]any)
		if labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("CRD %s: labels %v lack app.kubernetes.io/managed-by=Helm", d.name(), labels)
		}
		// Apart from the chart's labels and the keep policy, the CRD is the generated one.
		delete(meta, "labels")
		delete(annotations, "helm.sh/resource-policy")
		w, ok := byName[d.name()]
		if !ok {
			t.Errorf("rendered CRD %s is not in config/crd/bases", d.name())
			continue
		}
		if !reflect.DeepEqual(d.obj, w) {
			t.Errorf("rendered CRD %s differs from config/crd/bases: run `make manifests` (it copies the CRD into charts/contract-lucidity/files/crds)", d.name())
		}
	}
}

func TestCRDValueToggles(t *testing.T) {
	if crds := find(split(t, render(t, "--set", "crds.enabled=false")), "CustomResourceDefinition"); len(crds) != 0 {
		t.Errorf("crds.enabled=false rendered %d CRDs", len(crds))
	}
	crds := find(split(t, render(t, "--set", "crds.keep=false")), "CustomResourceDefinition")
	if len(crds) != 1 {
		t.Fatalf("crds.keep=false rendered %d CRDs, want 1", len(crds))
	}
	annotations, _ := metadata(crds[0].obj)["annotations"].(map[string]any)
	if _, ok := annotations["helm.sh/resource-policy"]; ok {
		t.Errorf("crds.keep=false still sets helm.sh/resource-policy: %v", annotations)
	}
}

func TestValuesSchemaRejectsBadValues(t *testing.T) {
	for _, set := range []string{
		"replicaCount=-1",
		"image.pullPolicy=Sometimes",
		"image.digest=latest",
		"instance.name=Not_A_Name",
		"logLevel=verbose",
		"metrics.port=70000",
		"crds.keep=maybe",
		"unknownKey=1",
	} {
		if out, err := helm(t, "template", "cl", chartDir(t), "--set", set); err == nil {
			t.Errorf("--set %s was accepted, want a schema error; rendered %d bytes", set, len(out))
		} else if !strings.Contains(err.Error(), "schema") {
			t.Errorf("--set %s failed without naming the schema: %v", set, err)
		}
	}
}

// Without the CRD served, instance.enabled hands the instance to the
// release's operator when the release installs both; otherwise it says
// what to do.
func TestInstanceWithoutServedCRD(t *testing.T) {
	docs := split(t, render(t, "--set", "instance.enabled=true"))
	if n := len(find(docs, "ContractLucidity")); n != 0 {
		t.Errorf("rendered %d ContractLucidity with the CRD not served", n)
	}
	var cm *document
	for _, d := range find(docs, "ConfigMap") {
		if d.name() == "cl-contract-lucidity-instance" {
			cm = &d
		}
	}
	if cm == nil {
		t.Fatal("no bootstrap ConfigMap cl-contract-lucidity-instance")
	}
	data, _ := cm.obj["data"].(map[string]any)
	if s, _ := data["instance.yaml"].(string); !strings.Contains(s, "kind: ContractLucidity") || !strings.Contains(s, "meta.helm.sh/release-name: cl") {
		t.Errorf("the ConfigMap's instance.yaml is not the instance with Helm's ownership:\n%s", s)
	}
	args := fmt.Sprint(find(docs, "Deployment")[0].obj["spec"])
	if !strings.Contains(args, "--create-instance-from="+releaseNamespace+"/cl-contract-lucidity-instance") {
		t.Errorf("the operator is not told to create the instance: %s", args)
	}

	_, err := helm(t, "template", "cl", chartDir(t), "-n", releaseNamespace, "--set", "instance.enabled=true", "--set", "crds.enabled=false")
	if err == nil || !strings.Contains(err.Error(), "instance.enabled needs the ContractLucidity CRD") {
		t.Fatalf("instance.enabled without the CRD served or installed: err = %v, want the explanatory failure", err)
	}
}

// A namespace-scoped operator never sees an instance outside its namespaces.
func TestInstanceOutsideWatchNamespacesIsRefused(t *testing.T) {
	_, err := helm(t, "template", "cl", chartDir(t), "-n", releaseNamespace, "--set", "instance.enabled=true", "--set", "watchNamespaces={team-a}")
	if err == nil || !strings.Contains(err.Error(), "watchNamespaces (team-a) leaves out") {
		t.Fatalf("instance.enabled outside watchNamespaces: err = %v, want the explanatory failure", err)
	}
	if _, err := helm(t, "template", "cl", chartDir(t), "-n", releaseNamespace, "--set", "instance.enabled=true",
		"--set", "watchNamespaces={team-a,"+releaseNamespace+"}"); err != nil {
		t.Errorf("instance.enabled with the release namespace watched: %v", err)
	}
}
