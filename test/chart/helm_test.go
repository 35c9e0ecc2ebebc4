// Package chart tests the Helm chart in charts/contract-lucidity: helm lint,
// golden output of helm template for representative values, the rendered
// CRD and RBAC against config/ (generated from the Go markers), the values
// schema, and a server-side dry-run of every rendered object against a real
// kube-apiserver.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

const releaseNamespace = "cl-system"

var crdAPIVersion = "contractlucidity.io/v1alpha1/ContractLucidity"

func root(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func chartDir(t testing.TB) string { return filepath.Join(root(t), "charts", "contract-lucidity") }

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary returns the cached helm (hack/helm.sh builds it from the Go
// module proxy the first time, about 3 minutes).
func helmBinary(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		cmd := exec.Command(filepath.Join(root(t), "hack", "helm.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("hack/helm.sh: %w\n%s", err, stderr.String())
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// helm runs helm with its caches and config in a temporary directory.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	home := filepath.Join(os.TempDir(), "cl-chart-test-helm-home")
	cmd := exec.Command(helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// render runs helm template for release "cl" in releaseNamespace with extra args.
func render(t testing.TB, args ...string) string {
	t.Helper()
	out, err := helm(t, append([]string{"template", "cl", chartDir(t), "--namespace", releaseNamespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// document is one rendered manifest: its source template and parsed object.
type document struct {
	source string
	raw    string
	obj    map[string]any
}

func (d document) kind() string { s, _ := d.obj["kind"].(string); return s }

func (d document) name() string {
	m, _ := d.obj["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// split parses helm template output into documents.
func split(t testing.TB, rendered string) []document {
	t.Helper()
	var docs []document
	for _, part := range strings.Split(rendered, "\n---\n") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "---")
		if strings.TrimSpace(part) == "" {
			continue
		}
		d := document{raw: part}
		if first, _, ok := strings.Cut(strings.TrimSpace(part), "\n"); ok && strings.HasPrefix(first, "# Source: ") {
			d.source = strings.TrimPrefix(first, "# Source: ")
		}
		if err := yaml.Unmarshal([]byte(part), &d.obj); err != nil {
			t.Fatalf("rendered document from %s is not YAML: %v\n%s", d.source, err, part)
		}
		if d.obj == nil {
			continue
		}
		docs = append(docs, d)
	}
	return docs
}

func find(docs []document, kind string) []document {
	var out []document
	for _, d := range docs {
		if d.kind() == kind {
			out = append(out, d)
		}
	}
	return out
}

var errNotFound = errors.New("not found")
