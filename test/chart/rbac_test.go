package chart

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestClusterRoleMatchesConfigRBAC(t *testing.T) {
	want := readYAMLFiles(t, filepath.Join(root(t), "config", "rbac", "role.yaml"))[0]
	roles := find(split(t, render(t)), "ClusterRole")
	if len(roles) != 1 {
		t.Fatalf("rendered %d ClusterRoles, want 1", len(roles))
	}
	if !reflect.DeepEqual(roles[0].obj["rules"], want["rules"]) {
		got, _ := yaml.Marshal(roles[0].obj["rules"])
		exp, _ := yaml.Marshal(want["rules"])
		t.Errorf("ClusterRole rules differ from config/rbac/role.yaml (run `make manifests`):\ngot:\n%s\nwant:\n%s", got, exp)
	}
}

// watchNamespaces: a Role and RoleBinding per namespace with the
// ClusterRole's rules minus the cluster-wide reads, and no ClusterRole.
func TestNamespacedRBAC(t *testing.T) {
	docs := split(t, render(t, "--set", "watchNamespaces={team-a,team-b}"))
	if n := len(find(docs, "ClusterRole")) + len(find(docs, "ClusterRoleBinding")); n != 0 {
		t.Errorf("a namespace-scoped release rendered %d cluster-wide RBAC objects", n)
	}
	want := readYAMLFiles(t, filepath.Join(root(t), "config", "rbac", "role.yaml"))[0]["rules"].([]any)
	var wantRules []any
	for _, r := range want {
		res := fmt.Sprint(r.(map[string]any)["resources"])
		if !strings.Contains(res, "servicecidrs") && !strings.Contains(res, "endpointslices") {
			wantRules = append(wantRules, r)
		}
	}
	managers := map[string]bool{}
	for _, d := range find(docs, "Role") {
		if d.name() != "cl-contract-lucidity-manager" {
			continue
		}
		ns, _ := d.obj["metadata"].(map[string]any)["namespace"].(string)
		managers[ns] = true
		if !reflect.DeepEqual(d.obj["rules"], wantRules) {
			t.Errorf("Role in %s: rules differ from config/rbac/role.yaml minus servicecidrs and endpointslices", ns)
		}
	}
	if !managers["team-a"] || !managers["team-b"] || len(managers) != 2 {
		t.Errorf("manager Roles in %v, want team-a and team-b", managers)
	}
	env := fmt.Sprint(find(docs, "Deployment")[0].obj["spec"])
	if !strings.Contains(env, "name:WATCH_NAMESPACE value:team-a,team-b") {
		t.Errorf("the Deployment does not set WATCH_NAMESPACE=team-a,team-b: %s", env)
	}
}
