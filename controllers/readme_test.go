/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// readmeYAML returns the ```yaml blocks of the README section whose
// heading is heading (up to the next heading of the same or a higher level).
func readmeYAML(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	level := strings.Index(heading, " ")
	lines := strings.Split(section, "\n")
	for i, l := range lines {
		if n := len(l) - len(strings.TrimLeft(l, "#")); n > 0 && n <= level && strings.HasPrefix(l[n:], " ") {
			lines = lines[:i]
			break
		}
	}
	section = strings.Join(lines, "\n")
	var blocks []string
	for rest := section; ; {
		_, after, ok := strings.Cut(rest, "```yaml\n")
		if !ok {
			return blocks
		}
		block, tail, _ := strings.Cut(after, "```\n")
		blocks = append(blocks, block)
		rest = tail
	}
}

// The README's overrides example is a valid instance (strict decoding, the
// CRD's schema and CEL rules) whose every override applies on a real API
// server, with the result the comments promise.
func TestREADMEOverridesExample(t *testing.T) {
	blocks := readmeYAML(t, "## Overrides (spec.overrides)")
	if len(blocks) != 1 {
		t.Fatalf("README's overrides section has %d yaml examples, want 1", len(blocks))
	}
	cl := &clv1.ContractLucidity{}
	if err := yaml.UnmarshalStrict([]byte(blocks[0]), cl); err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	if len(cl.Spec.Overrides) == 0 {
		t.Fatal("the README's example has no overrides")
	}
	ns := newNamespace(t)
	cl.Namespace = ns
	if err := k8sClient.Create(context.Background(), cl); err != nil {
		t.Fatalf("the API server refuses the README's example: %v", err)
	}
	// The worker rolls out once the migration Job has succeeded.
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	waitFor(t, &appsv1.Deployment{}, key(ns, cl.Name+"-worker"), nil)
	eventually(t, wait, "every README override applied", func() error {
		c := meta.FindStatusCondition(getCL(t, ns, cl.Name).Status.Conditions, clv1.ConditionOverridesApplied)
		if c == nil || c.Status != metav1.ConditionTrue || strings.Contains(c.Message, "matched no object") {
			return fmt.Errorf("OverridesApplied: %+v", c)
		}
		return nil
	})
	check := func(name string, ok func(d *appsv1.Deployment) error) {
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, cl.Name+"-"+name), func() error { return ok(d) })
	}
	check("frontend", func(d *appsv1.Deployment) error {
		if d.Labels["policy.example.com/cost-center"] != "legal" {
			return fmt.Errorf("labels %v", d.Labels)
		}
		if p := d.Spec.Template.Spec.Containers[0].ReadinessProbe; p == nil || p.TimeoutSeconds != 10 {
			return fmt.Errorf("readiness probe %+v", p)
		}
		return nil
	})
	check("worker", func(d *appsv1.Deployment) error {
		if d.Spec.Template.Annotations["sidecar.istio.io/inject"] != "false" {
			return fmt.Errorf("pod annotations %v", d.Spec.Template.Annotations)
		}
		return nil
	})
}
