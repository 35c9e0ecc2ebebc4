// Package release checks what the release pipeline relies on: one version
// everywhere it is written, base-image pinning that writes only digests a
// registry returned, and an install.yaml that installs the released image.
package release

import (
	"archive/tar"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/contract-lucidity/contract-lucidity/controllers"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func yamlField(t *testing.T, rel string, path ...string) string {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(read(t, rel), &v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no %s", rel, strings.Join(path, "."))
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// make evaluates a Makefile variable.
func makeVar(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory", "print-" + name}, args...)...)
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make print-%s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// VERSION drives the image tags, the chart's version and appVersion and the
// operator's default spec.version; every copy of it must agree
// (hack/set-version.sh writes them all).
func TestOneVersionEverywhere(t *testing.T) {
	v := strings.TrimSpace(string(read(t, "VERSION")))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("VERSION %q is not a semantic version", v)
	}
	got := map[string]string{
		"controllers.DefaultVersion (operator default spec.version)": controllers.DefaultVersion,
		"charts/contract-lucidity/Chart.yaml version":                yamlField(t, "charts/contract-lucidity/Chart.yaml", "version"),
		"charts/contract-lucidity/Chart.yaml appVersion":             yamlField(t, "charts/contract-lucidity/Chart.yaml", "appVersion"),
		"charts/contract-lucidity/values.yaml instance.spec.version": yamlField(t, "charts/contract-lucidity/values.yaml", "instance", "spec", "version"),
		"config/samples (development) spec.version":                  yamlField(t, "config/samples/contractlucidity_v1alpha1_contractlucidity.yaml", "spec", "version"),
		"config/samples (production) spec.version":                   yamlField(t, "config/samples/contractlucidity_v1alpha1_contractlucidity_production.yaml", "spec", "version"),
		"config/samples (backup) spec.version":                       yamlField(t, "config/samples/contractlucidity_v1alpha1_contractlucidity_backup.yaml", "spec", "version"),
		"config/samples (cloudnativepg) spec.version":                yamlField(t, "config/samples/contractlucidity_v1alpha1_contractlucidity_cloudnativepg.yaml", "spec", "version"),
		"CRD default of spec.version":                                crdVersionDefault(t),
		"Makefile IMG tag":                                           tagOf(makeVar(t, "IMG")),
		"Makefile APP_IMG tag":                                       tagOf(makeVar(t, "APP_IMG")),
		"operator image in config/manager (install.yaml)":            managerTag(t),
	}
	for where, g := range got {
		if g != v {
			t.Errorf("%s = %q, VERSION = %q (run hack/set-version.sh %s)", where, g, v, v)
		}
	}
	// The images the operator deploys by default are the ones the Makefile builds.
	if img := makeVar(t, "APP_IMG"); !strings.HasPrefix(img, controllers.DefaultImageRepository+":") {
		t.Errorf("make APP_IMG = %s, the operator deploys %s:<version>", img, controllers.DefaultImageRepository)
	}
	if img, chart := makeVar(t, "IMG"), yamlField(t, "charts/contract-lucidity/values.yaml", "image", "repository"); !strings.HasPrefix(img, chart+":") {
		t.Errorf("make IMG = %s, the chart installs %s", img, chart)
	}
}

func tagOf(image string) string { return image[strings.LastIndex(image, ":")+1:] }

func crdVersionDefault(t *testing.T) string {
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties map[string]struct {
							Properties map[string]struct {
								Default any `json:"default"`
							} `json:"properties"`
						} `json:"properties"`
					} `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(read(t, "config/crd/bases/contractlucidity.io_contractlucidities.yaml"), &crd); err != nil {
		t.Fatal(err)
	}
	s, _ := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["version"].Default.(string)
	return s
}

func managerTag(t *testing.T) string {
	var k struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	if err := yaml.Unmarshal(read(t, "config/manager/kustomization.yaml"), &k); err != nil {
		t.Fatal(err)
	}
	for _, i := range k.Images {
		if i.Name == "controller" {
			return i.NewTag
		}
	}
	return ""
}

// crane returns the cached crane binary (make builds it once).
func crane(t *testing.T) string {
	t.Helper()
	if c := os.Getenv("CRANE"); c != "" {
		return c
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "crane")
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make crane: %v\n%s", err, out)
	}
	return makeVar(t, "CRANE")
}

// registry serves an in-memory OCI registry (crane's) on a free port.
func registry(t *testing.T, craneBin string) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	cmd := exec.Command(craneBin, "registry", "serve", "--address", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop
		}
		if i > 100 {
			t.Fatal("registry did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// push pushes a one-layer image whose only file holds content and returns
// the digest the registry reports for the tag.
func push(t *testing.T, craneBin, ref, content string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	layer := filepath.Join(t.TempDir(), "layer.tar")
	os.WriteFile(layer, buf.Bytes(), 0o644)
	if out, err := exec.Command(craneBin, "append", "-f", layer, "-t", ref).CombinedOutput(); err != nil {
		t.Fatalf("crane append %s: %v\n%s", ref, err, out)
	}
	out, err := exec.Command(craneBin, "digest", ref).Output()
	if err != nil {
		t.Fatalf("crane digest %s: %v", ref, err)
	}
	return strings.TrimSpace(string(out))
}

func pin(t *testing.T, craneBin, dockerfile string) (string, error) {
	cmd := exec.Command(filepath.Join(root(t), "hack", "pin-images.sh"), dockerfile)
	cmd.Env = append(os.Environ(), "CRANE="+craneBin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// make pin-images writes exactly the digests the registry returns for the
// tags, leaves stage references and scratch alone, moves a pin when the tag
// moves, and changes nothing when a registry cannot be reached.
func TestPinImagesWritesOnlyResolvedDigests(t *testing.T) {
	c := crane(t)
	addr, stop := registry(t, c)
	base, final := addr+"/library/golang:1.26-bookworm", addr+"/distroless/static:nonroot"
	dBase, dFinal := push(t, c, base, "builder v1"), push(t, c, final, "runtime")

	dockerfile := filepath.Join(t.TempDir(), "Dockerfile")
	src := "# syntax=docker/dockerfile:1.7\n" +
		"FROM --platform=$BUILDPLATFORM " + base + " AS builder\n" +
		"RUN echo FROM nothing\n" +
		"FROM builder AS build-app\n" +
		"FROM " + final + " AS app\n" +
		"FROM scratch AS empty\n" +
		"FROM " + final + "\n"
	os.WriteFile(dockerfile, []byte(src), 0o644)

	if out, err := pin(t, c, dockerfile); err != nil {
		t.Fatalf("pin-images: %v\n%s", err, out)
	}
	want := "# syntax=docker/dockerfile:1.7\n" +
		"FROM --platform=$BUILDPLATFORM " + base + "@" + dBase + " AS builder\n" +
		"RUN echo FROM nothing\n" +
		"FROM builder AS build-app\n" +
		"FROM " + final + "@" + dFinal + " AS app\n" +
		"FROM scratch AS empty\n" +
		"FROM " + final + "@" + dFinal + "\n"
	if got, _ := os.ReadFile(dockerfile); string(got) != want {
		t.Fatalf("pinned Dockerfile:\n%s\nwant:\n%s", got, want)
	}

	// The tag moves (a rebuilt base image): a second run moves the pin.
	dBase2 := push(t, c, base, "builder v2")
	if dBase2 == dBase {
		t.Fatal("the new image has the old digest")
	}
	if out, err := pin(t, c, dockerfile); err != nil {
		t.Fatalf("pin-images again: %v\n%s", err, out)
	}
	want = strings.ReplaceAll(want, dBase, dBase2)
	if got, _ := os.ReadFile(dockerfile); string(got) != want {
		t.Fatalf("re-pinned Dockerfile:\n%s\nwant:\n%s", got, want)
	}

	// No registry: a clear error and the file as it was.
	stop()
	out, err := pin(t, c, dockerfile)
	if err == nil || !strings.Contains(out, "cannot resolve") || !strings.Contains(out, "unchanged") {
		t.Fatalf("pin-images without a registry: err %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(dockerfile); string(got) != want {
		t.Fatalf("a failed pin-images changed the Dockerfile:\n%s", got)
	}
}

// make release-manifests writes install.yaml with the operator at IMG, and
// leaves every tracked file as it was (make deploy uses the same rendering).
func TestReleaseManifestsInstallTheReleasedImage(t *testing.T) {
	dist := t.TempDir()
	before := gitStatus(t)
	cmd := exec.Command("make", "-s", "--no-print-directory", "release-manifests", "DIST="+dist, "IMG=registry.example/ops/operator:9.9.9")
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release-manifests: %v\n%s", err, out)
	}
	install, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var images []string
	for _, doc := range strings.Split(string(install), "\n---\n") {
		var obj struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct{ Image string }
					}
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		kinds[obj.Kind]++
		for _, c := range obj.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
	}
	for _, k := range []string{"CustomResourceDefinition", "Namespace", "ClusterRole", "Deployment", "ServiceAccount"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s (kinds: %v)", k, kinds)
		}
	}
	if len(images) != 1 || images[0] != "registry.example/ops/operator:9.9.9" {
		t.Errorf("operator images in install.yaml: %v", images)
	}
	if after := gitStatus(t); after != before {
		t.Errorf("make release-manifests changed tracked files:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func gitStatus(t *testing.T) string {
	cmd := exec.Command("git", "status", "--porcelain", "--untracked-files=no")
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git status: %v", err)
	}
	return string(out)
}
