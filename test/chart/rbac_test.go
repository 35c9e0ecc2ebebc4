package chart

import (
	"path/filepath"
	"reflect"
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
