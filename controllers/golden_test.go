/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var samples = map[string]string{
	"development": "../config/samples/contractlucidity_v1alpha1_contractlucidity.yaml",
	"production":  "../config/samples/contractlucidity_v1alpha1_contractlucidity_production.yaml",
	// Backups to S3 (backup.go).
	"backup": "../config/samples/contractlucidity_v1alpha1_contractlucidity_backup.yaml",
	// CloudNativePG and backups to an operator-created volume (cnpg.go).
	"cloudnativepg": "../config/samples/contractlucidity_v1alpha1_contractlucidity_cloudnativepg.yaml",
}

func loadSample(t testing.TB, path string) *clv1.ContractLucidity {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cl := &clv1.ContractLucidity{}
	if err := yaml.UnmarshalStrict(b, cl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cl.Namespace = "default"
	cl.UID = types.UID("00000000-0000-0000-0000-000000000001")
	return cl
}

// allObjects builds every child of cl with fixed inputs (version migrated,
// fixed hashes, a seeded random stream), in a stable order.
func allObjects(t testing.TB, in *clv1.ContractLucidity) []client.Object {
	t.Helper()
	cl := Defaulted(in)
	rnd := rand.NewChaCha8([32]byte{1})
	var objs []client.Object
	for _, g := range GeneratedSecrets(cl) {
		s, err := BuildGeneratedSecret(cl, g, rnd)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, s)
	}
	objs = append(objs, BuildConfigMap(cl), BuildStoragePVC(cl))
	if cl.Spec.Database.Managed != nil {
		objs = append(objs, BuildServiceAccount(cl, ComponentPostgres), BuildPostgresInitConfigMap(cl),
			BuildPostgresStatefulSet(cl, "pg-hash"))
		for _, s := range BuildPostgresServices(cl) {
			objs = append(objs, s)
		}
	}
	if cl.Spec.Redis.Managed != nil {
		var password string
		for _, o := range objs {
			if s, ok := o.(*corev1.Secret); ok && s.Name == Name(cl, "redis") {
				password = string(s.Data[SecretKeyRedisPassword])
			}
		}
		objs = append(objs, BuildServiceAccount(cl, ComponentRedis), BuildRedisConfigMap(cl, password),
			BuildRedisDeployment(cl, "redis-hash"), BuildRedisService(cl))
	}
	if cl.Spec.Database.CloudNativePG != nil {
		c, err := BuildCloudNativePGCluster(cl)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, c)
	}
	if restoreFrom(cl) != nil {
		objs = append(objs, BuildRestoreJob(cl, cl.Spec.Version))
	}
	objs = append(objs, BuildMigrationJob(cl, cl.Spec.Version))
	for _, c := range AppComponents {
		objs = append(objs, BuildServiceAccount(cl, c), BuildAppDeployment(cl, c, cl.Spec.Version, c+"-hash"), BuildPDB(cl, c))
		if h := BuildHPA(cl, c); h != nil {
			objs = append(objs, h)
		}
	}
	objs = append(objs, BuildAppService(cl, ComponentFrontend), BuildAppService(cl, ComponentBackend))
	if cl.Spec.Monitoring.ServiceMonitor {
		objs = append(objs, BuildAppService(cl, ComponentWorker), BuildServiceMonitor(cl))
	}
	if cl.Spec.Backup != nil {
		if p := BuildBackupPVC(cl); p != nil {
			objs = append(objs, p)
		}
		objs = append(objs, BuildBackupCronJob(cl, cl.Spec.Version), BuildOnDemandBackupJob(cl, cl.Spec.Version, "golden"))
	}
	if cl.Spec.Ingress.Enabled {
		for _, i := range BuildIngresses(cl) {
			objs = append(objs, i)
		}
	}
	if networkPolicyEnabled(cl) {
		for _, n := range BuildNetworkPolicies(cl, goldenClusterNetwork) {
			objs = append(objs, n)
		}
	}
	return objs
}

// goldenClusterNetwork is a detected service range and API server address.
var goldenClusterNetwork = ClusterNetwork{ServiceCIDRs: []string{"10.96.0.0/12", "fd00:10:96::/112"}, APIServer: []string{"34.118.2.7"}}

func TestGoldenSamples(t *testing.T) {
	for name, path := range samples {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			for _, o := range allObjects(t, loadSample(t, path)) {
				u, err := toApplyUnstructured(o)
				if err != nil {
					t.Fatal(err)
				}
				b, err := yaml.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				buf.WriteString("---\n")
				buf.Write(b)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./controllers/ -run TestGolden -update)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("%s differs from the builders' output; review and run `go test ./controllers/ -run TestGolden -update`\n%s",
					golden, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}
