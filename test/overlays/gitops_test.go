package overlays

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

const repoURL = "https://github.com/contract-lucidity/contract-lucidity.git"

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func releaseTag(t *testing.T) string {
	t.Helper()
	v, err := os.ReadFile(filepath.Join(root(t), "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return "v" + strings.TrimSpace(string(v))
}

// The fields of an Argo CD Application these examples use (strict: a
// misspelt field fails).
type application struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL        string `json:"repoURL"`
			TargetRevision string `json:"targetRevision"`
			Path           string `json:"path"`
		} `json:"source"`
		Destination struct {
			Server string `json:"server"`
		} `json:"destination"`
		SyncPolicy struct {
			Automated struct {
				Prune    bool `json:"prune"`
				SelfHeal bool `json:"selfHeal"`
			} `json:"automated"`
			SyncOptions []string       `json:"syncOptions"`
			Retry       map[string]any `json:"retry"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

// The Argo CD Applications point at the release and at paths that build.
func TestArgoCDApplications(t *testing.T) {
	paths := map[string]string{}
	for _, f := range []string{"config/gitops/argocd/operator.yaml", "config/gitops/argocd/instance.yaml"} {
		var app application
		readYAML(t, f, &app)
		if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" {
			t.Errorf("%s: %s %s, want an argoproj.io/v1alpha1 Application", f, app.APIVersion, app.Kind)
		}
		src := app.Spec.Source
		if src.RepoURL != repoURL || src.TargetRevision != releaseTag(t) {
			t.Errorf("%s: source %s@%s, want %s@%s (hack/set-version.sh)", f, src.RepoURL, src.TargetRevision, repoURL, releaseTag(t))
		}
		if app.Spec.Destination.Server == "" || app.Spec.Project == "" {
			t.Errorf("%s: no destination server or project", f)
		}
		if len(build(t, src.Path)) == 0 {
			t.Errorf("%s: path %s builds nothing", f, src.Path)
		}
		paths[app.Metadata.Name] = src.Path
		if !strings.Contains(strings.Join(app.Spec.SyncPolicy.SyncOptions, ","), "ServerSideApply=true") {
			t.Errorf("%s: without ServerSideApply the CRD exceeds the last-applied annotation", f)
		}
	}
	if paths["contract-lucidity-operator"] != "config/overlays/production" || paths["contract-lucidity"] != "config/instances/production" {
		t.Errorf("Applications: %v", paths)
	}
}

type fluxKustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		DependsOn []struct {
			Name string `json:"name"`
		} `json:"dependsOn"`
		Interval  string `json:"interval"`
		SourceRef struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"sourceRef"`
		Path             string `json:"path"`
		Prune            bool   `json:"prune"`
		Wait             bool   `json:"wait"`
		Timeout          string `json:"timeout"`
		HealthCheckExprs []struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Current    string `json:"current"`
			Failed     string `json:"failed"`
		} `json:"healthCheckExprs"`
	} `json:"spec"`
}

// The Flux objects: the GitRepository at the release, Kustomizations on
// it at paths that build, the instance after the operator.
func TestFluxKustomizations(t *testing.T) {
	var src struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Spec struct {
			Interval string `json:"interval"`
			URL      string `json:"url"`
			Ref      struct {
				Tag string `json:"tag"`
			} `json:"ref"`
			Ignore string `json:"ignore"`
		} `json:"spec"`
	}
	readYAML(t, "config/gitops/flux/source.yaml", &src)
	if src.Kind != "GitRepository" || src.Spec.URL != repoURL || src.Spec.Ref.Tag != releaseTag(t) {
		t.Errorf("GitRepository: %s %s@%s, want %s@%s", src.Kind, src.Spec.URL, src.Spec.Ref.Tag, repoURL, releaseTag(t))
	}
	var op, inst fluxKustomization
	readYAML(t, "config/gitops/flux/operator.yaml", &op)
	readYAML(t, "config/gitops/flux/instance.yaml", &inst)
	for _, k := range []fluxKustomization{op, inst} {
		if k.APIVersion != "kustomize.toolkit.fluxcd.io/v1" || k.Kind != "Kustomization" {
			t.Errorf("%s: %s %s", k.Metadata.Name, k.APIVersion, k.Kind)
		}
		if k.Spec.SourceRef.Kind != "GitRepository" || k.Spec.SourceRef.Name != src.Metadata.Name || k.Metadata.Namespace != src.Metadata.Namespace {
			t.Errorf("%s: sourceRef %+v is not the GitRepository %s/%s", k.Metadata.Name, k.Spec.SourceRef, src.Metadata.Namespace, src.Metadata.Name)
		}
		p := strings.TrimPrefix(k.Spec.Path, "./")
		if !strings.HasPrefix(p, "config/") {
			t.Errorf("%s: path %s is outside config/, which the GitRepository's ignore keeps", k.Metadata.Name, k.Spec.Path)
		}
		if len(build(t, p)) == 0 {
			t.Errorf("%s: path %s builds nothing", k.Metadata.Name, k.Spec.Path)
		}
	}
	if len(inst.Spec.DependsOn) != 1 || inst.Spec.DependsOn[0].Name != op.Metadata.Name {
		t.Errorf("the instance's Kustomization does not depend on the operator's (%s): %+v", op.Metadata.Name, inst.Spec.DependsOn)
	}
	if len(inst.Spec.HealthCheckExprs) != 1 || inst.Spec.HealthCheckExprs[0].Kind != "ContractLucidity" ||
		inst.Spec.HealthCheckExprs[0].APIVersion != clv1.GroupVersion.String() {
		t.Errorf("the instance's Kustomization has no health check for ContractLucidity: %+v", inst.Spec.HealthCheckExprs)
	}
}

// instance returns a ContractLucidity as the operator writes it, as the
// JSON map a GitOps tool reads.
func instance(t *testing.T, generation, observed int64, paused bool, conds ...metav1.Condition) map[string]any {
	t.Helper()
	cl := clv1.ContractLucidity{}
	cl.APIVersion, cl.Kind = clv1.GroupVersion.String(), "ContractLucidity"
	cl.Name, cl.Namespace, cl.Generation = "contracts", "contract-lucidity", generation
	cl.Spec.Paused = paused
	cl.Status.ObservedGeneration = observed
	cl.Status.Conditions = conds
	b, err := json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

var healthCases = []struct {
	name      string
	obj       func(t *testing.T) map[string]any
	argo      string // Argo CD health status
	message   string // part of Argo CD's message
	fluxState string // Current, Failed or InProgress
}{
	{"no status yet", func(t *testing.T) map[string]any { return instance(t, 1, 0, false) },
		"Progressing", "Waiting for the operator", "InProgress"},
	{"ready", func(t *testing.T) map[string]any {
		return instance(t, 2, 2, false, cond("Ready", "True", "Available", "every component is available"),
			cond("Degraded", "False", "AsExpected", "all steps succeeded"))
	}, "Healthy", "every component is available", "Current"},
	{"rolling out", func(t *testing.T) map[string]any {
		return instance(t, 2, 2, false, cond("Ready", "False", "NotReady", "waiting for [backend]"),
			cond("Degraded", "False", "AsExpected", "all steps succeeded"))
	}, "Progressing", "waiting for [backend]", "InProgress"},
	{"degraded", func(t *testing.T) map[string]any {
		return instance(t, 3, 3, false, cond("Ready", "False", "SecretMissing", "TLS Secret contracts-tls does not exist"),
			cond("Degraded", "True", "SecretMissing", "TLS Secret contracts-tls does not exist"))
	}, "Degraded", "contracts-tls", "Failed"},
	{"ready but a newer generation not yet seen", func(t *testing.T) map[string]any {
		return instance(t, 4, 3, false, cond("Ready", "True", "Available", "every component is available"))
	}, "Progressing", "generation 4", ""},
	{"paused", func(t *testing.T) map[string]any {
		return instance(t, 5, 5, true, cond("Ready", "True", "Available", "every component is available"))
	}, "Suspended", "spec.paused", ""},
}

// Argo CD's health check runs in gopher-lua, as in Argo CD, on instances
// serialised from the API types.
func TestArgoCDHealthCheck(t *testing.T) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	b, err := os.ReadFile(filepath.Join(root(t), "config/gitops/argocd/argocd-cm-health.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	script := cm.Data["resource.customizations.health.contractlucidity.io_ContractLucidity"]
	if script == "" {
		t.Fatalf("no health customization for contractlucidity.io/ContractLucidity in argocd-cm: keys %v", cm.Data)
	}
	for _, tc := range healthCases {
		t.Run(tc.name, func(t *testing.T) {
			L := lua.NewState()
			defer L.Close()
			L.SetGlobal("obj", toLua(L, tc.obj(t)))
			if err := L.DoString(script); err != nil {
				t.Fatalf("the health script fails: %v", err)
			}
			hs, ok := L.Get(-1).(*lua.LTable)
			if !ok {
				t.Fatalf("the health script returned %v, want a table", L.Get(-1))
			}
			status, msg := hs.RawGetString("status").String(), hs.RawGetString("message").String()
			if status != tc.argo || !strings.Contains(msg, tc.message) {
				t.Errorf("health = %s %q, want %s with %q", status, msg, tc.argo, tc.message)
			}
		})
	}
}

// toLua converts decoded JSON to Lua values as Argo CD does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, x := range v {
			t.RawSetString(k, toLua(L, x))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, x := range v {
			t.Append(toLua(L, x))
		}
		return t
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

// Flux's healthCheckExprs, evaluated with CEL on the instance's top-level
// fields as Flux does: failed first, then current, else in progress.
// (Flux itself waits for status.observedGeneration first; the cases
// without a Flux state are about that or about spec.paused.)
func TestFluxHealthCheckExprs(t *testing.T) {
	var k fluxKustomization
	readYAML(t, "config/gitops/flux/instance.yaml", &k)
	e := k.Spec.HealthCheckExprs[0]
	env, err := cel.NewEnv(cel.Variable("apiVersion", cel.DynType), cel.Variable("kind", cel.DynType),
		cel.Variable("metadata", cel.DynType), cel.Variable("spec", cel.DynType), cel.Variable("status", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	compile := func(expr string) cel.Program {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%q: %v", expr, iss.Err())
		}
		if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
			t.Fatalf("%q is not a boolean", expr)
		}
		p, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	failed, current := compile(e.Failed), compile(e.Current)
	eval := func(p cel.Program, obj map[string]any) bool {
		vars := map[string]any{}
		for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
			vars[k] = obj[k]
			if vars[k] == nil {
				vars[k] = map[string]any{}
			}
		}
		out, _, err := p.Eval(vars)
		if err != nil {
			t.Fatalf("eval: %v", err)
		}
		b, ok := out.Value().(bool)
		if !ok {
			t.Fatalf("%v is not a boolean", out)
		}
		return b
	}
	for _, tc := range healthCases {
		if tc.fluxState == "" {
			continue
		}
		obj := tc.obj(t)
		state := "InProgress"
		switch {
		case eval(failed, obj):
			state = "Failed"
		case eval(current, obj):
			state = "Current"
		}
		if state != tc.fluxState {
			t.Errorf("%s: Flux state %s, want %s", tc.name, state, tc.fluxState)
		}
	}
}

// Every path the README's GitOps section names exists; every directory it
// names is one of the kustomizations TestOverlaysApplyToAPIServer checks,
// and every file one the tests above read.
func TestREADMEGitOpsPaths(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## GitOps (Argo CD and Flux)\n")
	if !ok {
		t.Fatal("README has no GitOps section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	built := map[string]bool{}
	for _, k := range kustomizations {
		built[k] = true
	}
	files := map[string]bool{}
	for _, f := range []string{"argocd/operator.yaml", "argocd/instance.yaml", "argocd/argocd-cm-health.yaml",
		"flux/source.yaml", "flux/operator.yaml", "flux/instance.yaml"} {
		files["config/gitops/"+f] = true
	}
	seen := 0
	for _, m := range regexp.MustCompile("(config/[a-z0-9/._-]*[a-z0-9/])").FindAllString(section, -1) {
		p := strings.TrimSuffix(m, "/")
		fi, err := os.Stat(filepath.Join(root(t), p))
		if err != nil {
			t.Errorf("README names %s: %v", m, err)
			continue
		}
		seen++
		switch {
		case p == "config/gitops" || files[p] || built[p]:
		case fi.IsDir() && p == "config/gitops/flux":
		default:
			t.Errorf("README names %s, which no test here builds or reads", p)
		}
	}
	if seen < 5 {
		t.Errorf("README's GitOps section names only %d paths", seen)
	}
}
