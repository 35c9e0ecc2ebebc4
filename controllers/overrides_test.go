/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// goldenOverrides are the README's examples: a sidecar, a probe timeout, a
// label a policy engine requires, a service-mesh annotation, an extra volume.
var goldenOverrides = []clv1.Override{
	{ // 0: a sidecar in the backend's pods (strategic merge: containers merge by name)
		Target: clv1.OverrideTarget{Kind: "Deployment", LabelSelector: "app.kubernetes.io/component=backend"},
		Patch: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
spec:
  template:
    spec:
      containers:
      - name: audit-shipper
        image: registry.example.com/audit-shipper:1.4.2
        args: ["--source=/data/storage"]
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          runAsNonRoot: true
          capabilities: {drop: ["ALL"]}
          seccompProfile: {type: RuntimeDefault}
        volumeMounts:
        - name: storage
          mountPath: /data/storage
          readOnly: true
`},
	{ // 1: a longer readiness probe timeout on the frontend (JSON 6902)
		Target: clv1.OverrideTarget{Kind: "Deployment", Name: ".*-frontend"},
		Patch: `- op: replace
  path: /spec/template/spec/containers/0/readinessProbe/timeoutSeconds
  value: 10
`},
	{ // 2: a label every workload must carry for a policy engine
		Target: clv1.OverrideTarget{Group: "apps", Kind: "Deployment|StatefulSet"},
		Patch: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: any
  labels:
    policy.example.com/cost-center: legal
`},
	{ // 3: the worker stays out of the service mesh
		Target: clv1.OverrideTarget{Kind: "Deployment", LabelSelector: "app.kubernetes.io/component=worker"},
		Patch:  `[{"op": "add", "path": "/spec/template/metadata/annotations/sidecar.istio.io~1inject", "value": "false"}]`,
	},
	{ // 4: an extra volume with a CA bundle for the worker's AI provider
		Target: clv1.OverrideTarget{Kind: "Deployment", Name: ".*-worker"},
		Patch: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  template:
    spec:
      volumes:
      - name: ca
        configMap:
          name: corporate-ca
      containers:
      - name: worker
        volumeMounts:
        - name: ca
          mountPath: /etc/ssl/certs/corporate-ca.crt
          subPath: ca.crt
          readOnly: true
`},
}

// TestGoldenOverrides renders the development sample with goldenOverrides;
// only the objects an override selected are written.
func TestGoldenOverrides(t *testing.T) {
	cl := loadSample(t, samples["development"])
	cl.Spec.Overrides = goldenOverrides
	var buf bytes.Buffer
	used := map[int]bool{}
	for _, o := range allObjects(t, cl) {
		u, err := toApplyUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		got, matched, oerr := ApplyOverrides(cl.Spec.Overrides, u)
		if oerr != nil {
			t.Fatalf("%s: %v", u.GetName(), oerr)
		}
		if len(matched) == 0 {
			if !equalObjects(got, u) {
				t.Errorf("%s %s matched no override but changed", u.GetKind(), u.GetName())
			}
			continue
		}
		for _, i := range matched {
			used[i] = true
		}
		b, err := yaml.Marshal(got.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	for i := range goldenOverrides {
		if !used[i] {
			t.Errorf("override %d matched nothing", i)
		}
	}
	golden := filepath.Join("testdata", "overrides.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./controllers/ -run TestGolden -update)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("%s differs; review and run `go test ./controllers/ -run TestGolden -update`\n%s", golden, firstDiff(string(want), got))
	}
	// Spot checks, so the golden file cannot silently hold a wrong result.
	for _, want := range []string{"name: audit-shipper", "timeoutSeconds: 10", "policy.example.com/cost-center: legal",
		"sidecar.istio.io/inject: \"false\"", "name: corporate-ca", "config.kubernetes.io"} {
		has := strings.Contains(buf.String(), want)
		if want == "config.kubernetes.io" { // kustomize's build annotations are removed
			has = !has
		}
		if !has {
			t.Errorf("the patched objects lack %q", want)
		}
	}
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	x, _ := yaml.Marshal(a.Object)
	y, _ := yaml.Marshal(b.Object)
	return bytes.Equal(x, y)
}

// TestOverrideRules: what an override may not do, and kustomize's own
// errors, come back with the override's index and a reason.
func TestOverrideRules(t *testing.T) {
	cl := loadSample(t, samples["development"])
	d := Defaulted(cl)
	dep, err := toApplyUnstructured(BuildAppDeployment(d, ComponentBackend, "0.1.0", "h"))
	if err != nil {
		t.Fatal(err)
	}
	dep.SetOwnerReferences(objectMeta(d, "x", ComponentBackend, true).OwnerReferences)
	backend := clv1.OverrideTarget{Kind: "Deployment", Name: ".*-backend"}
	good := clv1.Override{Target: backend, Patch: `[{"op": "add", "path": "/metadata/labels/team", "value": "legal"}]`}
	for _, tc := range []struct {
		name   string
		patch  string
		target clv1.OverrideTarget
		reason string
		msg    string
	}{
		{"json patch on a missing path", `[{"op": "replace", "path": "/spec/nothing/here", "value": 1}]`, backend,
			clv1.ReasonOverridePatchFailed, "nothing"},
		{"neither strategic merge nor JSON", "just: [text", backend, clv1.ReasonOverridePatchFailed, "unable to parse"},
		{"bad name regex", `[{"op": "add", "path": "/metadata/labels/a", "value": "b"}]`,
			clv1.OverrideTarget{Name: "(unclosed"}, clv1.ReasonOverridePatchFailed, "target"},
		{"rename", `[{"op": "replace", "path": "/metadata/name", "value": "other"}]`, backend,
			clv1.ReasonOverrideForbiddenChange, "metadata.name"},
		{"kind change", `[{"op": "replace", "path": "/kind", "value": "StatefulSet"}]`, backend,
			clv1.ReasonOverrideForbiddenChange, "kind"},
		{"namespace change", `[{"op": "replace", "path": "/metadata/namespace", "value": "elsewhere"}]`, backend,
			clv1.ReasonOverrideForbiddenChange, "namespace"},
		{"owner references", `[{"op": "remove", "path": "/metadata/ownerReferences"}]`, backend,
			clv1.ReasonOverrideForbiddenChange, "ownerReferences"},
		{"our label", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  labels:\n    app.kubernetes.io/component: api\n", backend,
			clv1.ReasonOverrideForbiddenChange, "app.kubernetes.io/component"},
		{"delete the object", "$patch: delete\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n", backend,
			clv1.ReasonOverrideForbiddenChange, "deletes"},
		{"privileged container", `[{"op": "replace", "path": "/spec/template/spec/containers/0/securityContext/privileged", "value": true}]`, backend,
			clv1.ReasonOverridePodSecurity, "privileged"},
		{"host path volume", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      volumes:\n      - name: host\n        hostPath: {path: /var/run}\n", backend,
			clv1.ReasonOverridePodSecurity, "hostPath"},
		{"runs as root", `[{"op": "replace", "path": "/spec/template/spec/securityContext/runAsUser", "value": 0}]`, backend,
			clv1.ReasonOverridePodSecurity, "runAsUser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overrides := []clv1.Override{good, {Target: tc.target, Patch: tc.patch}}
			got, _, oerr := ApplyOverrides(overrides, dep)
			if oerr == nil {
				b, _ := yaml.Marshal(got.Object)
				t.Fatalf("accepted; result:\n%s", b)
			}
			if oerr.Index != 1 || oerr.Reason != tc.reason || !strings.Contains(oerr.Error(), tc.msg) {
				t.Errorf("got index %d reason %s: %v; want index 1, reason %s, a message with %q", oerr.Index, oerr.Reason, oerr, tc.reason, tc.msg)
			}
			if !strings.Contains(oerr.Error(), "spec.overrides[1] on Deployment/"+dep.GetName()) {
				t.Errorf("message does not name the override and object: %v", oerr)
			}
		})
	}
	// The good override alone applies and changes nothing else it may not.
	got, matched, oerr := ApplyOverrides([]clv1.Override{good}, dep)
	if oerr != nil || len(matched) != 1 || got.GetLabels()["team"] != "legal" {
		t.Fatalf("good override: matched %v, err %v, labels %v", matched, oerr, got.GetLabels())
	}
	if dep.GetLabels()["team"] != "" {
		t.Error("ApplyOverrides modified its input")
	}
}
