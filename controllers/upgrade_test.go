/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func TestVersionLower(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"0.1.0", "0.2.0", true},
		{"0.2.0", "0.1.0", false},
		{"0.2.0", "0.2.0", false},
		{"0.9.0", "0.10.0", true}, // numeric, not lexical
		{"1.0.0-rc.1", "1.0.0", true},
		{"1.0.0", "1.0.0-rc.1", false},
		{"v1.2.3", "1.3.0", true},
		{"1.2", "1.3.0", true},          // not semantic: numeric components
		{"1.3.0-custom", "1.3.0", true}, // semantic pre-release
		{"1.3.0_custom", "1.3.0", false},
		{"latest", "0.2.0", false}, // not a version: never clearly lower
		{"0.1.0", "main-1a2b3c", false},
	} {
		if got := VersionLower(tc.a, tc.b); got != tc.want {
			t.Errorf("VersionLower(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDowngradePolicy(t *testing.T) {
	for _, tc := range []struct {
		name              string
		target, migrated  string
		allowed, wantDeny bool
	}{
		{"first install", "0.1.0", "", false, false},
		{"same version", "0.2.0", "0.2.0", false, false},
		{"upgrade", "0.3.0", "0.2.0", false, false},
		{"downgrade", "0.1.0", "0.2.0", false, true},
		{"downgrade allowed by annotation", "0.1.0", "0.2.0", true, false},
		{"unknown tag", "nightly", "0.2.0", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deny, reason, msg := DowngradePolicy(tc.target, tc.migrated, tc.allowed)
			if deny != tc.wantDeny {
				t.Fatalf("refuse = %v, want %v (%s)", deny, tc.wantDeny, msg)
			}
			if !deny {
				return
			}
			if reason != clv1.ReasonVersionDowngradeRefused {
				t.Errorf("reason %s", reason)
			}
			for _, want := range []string{tc.target, tc.migrated, clv1.AnnotationAllowDowngrade, "backup"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestVersionDowngradeIsRefusedAndNothingRolls(t *testing.T) {
	ns, cl := readyInstance(t, nil)
	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Version = "0.2.0" })
	markJobSucceeded(t, ns, MigrationJobName(cl, "0.2.0"))
	images := func() map[string]string {
		out := map[string]string{}
		for _, c := range AppComponents {
			d := &appsv1.Deployment{}
			waitFor(t, d, key(ns, cl.Name+"-"+c), nil)
			out[c] = d.Spec.Template.Spec.Containers[0].Image
		}
		return out
	}
	eventually(t, wait, "rolled to 0.2.0", func() error {
		for c, img := range images() {
			if !strings.HasSuffix(img, ":0.2.0") {
				return fmt.Errorf("%s runs %s", c, img)
			}
		}
		return nil
	})
	settle(t, ns)
	before := images()

	updateCL(t, ns, cl.Name, func(cl *clv1.ContractLucidity) { cl.Spec.Version = "0.1.0" })
	live := waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionTrue, clv1.ReasonVersionDowngradeRefused)
	msg := meta.FindStatusCondition(live.Status.Conditions, clv1.ConditionDegraded).Message
	if !strings.Contains(msg, "0.1.0") || !strings.Contains(msg, "0.2.0") || !strings.Contains(msg, clv1.AnnotationAllowDowngrade) {
		t.Errorf("message %q does not name both versions and the way out", msg)
	}
	waitCondition(t, ns, cl.Name, clv1.ConditionReady, metav1.ConditionFalse, clv1.ReasonVersionDowngradeRefused)
	waitEvent(t, ns, cl.Name, corev1.EventTypeWarning, clv1.ReasonVersionDowngradeRefused, "0.1.0")
	poke(t, ns, cl.Name, 3)
	if after := images(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("images changed on a refused downgrade: %v -> %v", before, after)
	}
	if v := getCL(t, ns, cl.Name).Status.MigratedVersion; v != "0.2.0" {
		t.Errorf("migratedVersion %s", v)
	}

	// The annotation allows it.
	annotate(t, ns, cl.Name, clv1.AnnotationAllowDowngrade, "true")
	waitCondition(t, ns, cl.Name, clv1.ConditionDegraded, metav1.ConditionFalse, "")
	eventually(t, wait, "frontend at 0.1.0", func() error {
		if img := images()[ComponentFrontend]; !strings.HasSuffix(img, ":0.1.0") {
			return fmt.Errorf("frontend runs %s", img)
		}
		return nil
	})
}
