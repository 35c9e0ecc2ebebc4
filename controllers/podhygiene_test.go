/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// podSpecs reads the pod templates of the instance's Deployments and
// StatefulSets, by component.
func podSpecs(t *testing.T, ns, name string, components ...string) map[string]corev1.PodSpec {
	t.Helper()
	out := map[string]corev1.PodSpec{}
	for _, c := range components {
		if c == ComponentPostgres {
			s := &appsv1.StatefulSet{}
			waitFor(t, s, key(ns, name+"-"+c), nil)
			out[c] = s.Spec.Template.Spec
			continue
		}
		d := &appsv1.Deployment{}
		waitFor(t, d, key(ns, name+"-"+c), nil)
		out[c] = d.Spec.Template.Spec
	}
	return out
}

// Scratch space is bounded and requested; replicas spread over nodes and
// zones unless the user placed them; PostgreSQL's liveness is not its
// readiness; the Redis password is on no command line.
func TestPodHygiene(t *testing.T) {
	ns := newNamespace(t)
	cl := createSample(t, ns, "production", func(cl *clv1.ContractLucidity) {
		// The user's own placement for the worker: left as it is.
		cl.Spec.Worker.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}, TopologyKey: corev1.LabelHostname}}}}
	})
	markJobSucceeded(t, ns, MigrationJobName(cl, cl.Spec.Version))
	all := []string{ComponentFrontend, ComponentBackend, ComponentWorker, ComponentRedis, ComponentPostgres}
	specs := podSpecs(t, ns, cl.Name, all...)

	for c, ps := range specs {
		for _, v := range ps.Volumes {
			if v.EmptyDir != nil && v.Name != "data" && v.EmptyDir.SizeLimit == nil {
				t.Errorf("%s: emptyDir %s has no sizeLimit", c, v.Name)
			}
		}
		for _, ctr := range ps.Containers {
			if _, ok := ctr.Resources.Requests[corev1.ResourceEphemeralStorage]; !ok {
				t.Errorf("%s: container %s requests no ephemeral-storage", c, ctr.Name)
			}
		}
	}

	// Two replicas each: spread over nodes and zones, softly, by default.
	for _, c := range []string{ComponentFrontend, ComponentBackend} {
		tsc := specs[c].TopologySpreadConstraints
		keys := map[string]bool{}
		for _, s := range tsc {
			keys[s.TopologyKey] = true
			if s.WhenUnsatisfiable != corev1.ScheduleAnyway || s.MaxSkew != 1 ||
				!reflect.DeepEqual(s.LabelSelector.MatchLabels, SelectorLabels(cl, c)) {
				t.Errorf("%s: spread constraint %+v", c, s)
			}
		}
		if !keys[corev1.LabelHostname] || !keys[corev1.LabelTopologyZone] {
			t.Errorf("%s (2 replicas) spreads over %v, want nodes and zones", c, keys)
		}
	}
	if tsc := specs[ComponentWorker].TopologySpreadConstraints; len(tsc) != 0 {
		t.Errorf("worker has the user's anti-affinity, yet got spread constraints %+v", tsc)
	}
	if specs[ComponentWorker].Affinity == nil || specs[ComponentWorker].Affinity.PodAntiAffinity == nil {
		t.Error("the user's worker anti-affinity is gone")
	}

	pg := specs[ComponentPostgres].Containers[0]
	if pg.LivenessProbe == nil || reflect.DeepEqual(pg.LivenessProbe.ProbeHandler, pg.ReadinessProbe.ProbeHandler) {
		t.Errorf("PostgreSQL liveness probe is its readiness probe: %+v", pg.LivenessProbe)
	}

	redis := specs[ComponentRedis].Containers[0]
	for _, arg := range append(append([]string{}, redis.Command...), redis.Args...) {
		if strings.Contains(arg, "REDIS_PASSWORD") || strings.Contains(arg, "requirepass") {
			t.Errorf("the Redis password is on its command line: %q", redis.Args)
		}
	}
	for _, e := range redis.Env {
		t.Errorf("Redis gets %s in its environment", e.Name)
	}

	// One replica: no spread constraints (nothing to spread).
	ns2, dev := readyInstance(t, nil)
	for c, ps := range podSpecs(t, ns2, dev.Name, ComponentFrontend, ComponentBackend, ComponentWorker) {
		if len(ps.TopologySpreadConstraints) != 0 {
			t.Errorf("%s with one replica has spread constraints", c)
		}
	}
}

// The managed Redis reads its password from a mounted configuration file
// that holds only its SHA-256 (Redis ACL "#<hash>"): a real redis-server
// started with the file the operator builds accepts the password, refuses
// a wrong one and a client without one, and has no password on its
// command line.
func TestRedisConfigFileAuthenticatesWithTheGeneratedPassword(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is required (hack/install-deps.sh installs it):", err)
	}
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	password := "Zq7mW2xV5tYbRk9pLs3nHd6gFj8cA1eUo4iQy0Tz"
	cm := BuildRedisConfigMap(cl, password)
	dir := t.TempDir()
	inDir := strings.NewReplacer("/etc/redis/", dir+"/", "/data", dir)
	for _, f := range []string{RedisConfigFile, RedisACLFile} {
		if strings.Contains(cm.Data[f], password) {
			t.Fatalf("%s holds the password itself", f)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(inDir.Replace(cm.Data[f])), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	// The container's arguments, with the pod's paths replaced by the
	// test's, and a free port.
	args := BuildRedisDeployment(cl, "h").Spec.Template.Spec.Containers[0].Args
	if args[0] != "redis-server" {
		t.Fatalf("Redis runs %q", args)
	}
	var argv []string
	for _, a := range args[1:] {
		argv = append(argv, inDir.Replace(a))
	}
	cmd := exec.Command(bin, append(argv, "--port", fmt.Sprint(port), "--bind", "127.0.0.1")...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	cli := func(auth string, args ...string) string {
		c := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(port)}, args...)...)
		c.Env = append(os.Environ(), "REDISCLI_AUTH="+auth)
		b, _ := c.CombinedOutput()
		return strings.TrimSpace(string(b))
	}
	eventually(t, wait, "redis-server up", func() error {
		if r := cli(password, "ping"); r != "PONG" {
			return fmt.Errorf("ping with the password: %q (server log: %s)", r, out.String())
		}
		return nil
	})
	if r := cli("", "ping"); !strings.Contains(r, "NOAUTH") {
		t.Errorf("ping without a password: %q", r)
	}
	if r := cli("wrong-password", "ping"); r == "PONG" {
		t.Errorf("ping with a wrong password: %q", r)
	}
	if r := cli(password, "config", "get", "appendonly"); !strings.Contains(r, "yes") {
		t.Errorf("appendonly: %q", r)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), password) {
		t.Error("the password is on redis-server's command line")
	}
}

// PostgreSQL's liveness fails only when the server does not answer at all
// (pg_isready exit 2), not while it starts or recovers and rejects
// connections (exit 1), which only readiness reports. The probes' commands
// run under sh with a pg_isready that exits as told.
func TestPostgresLivenessToleratesRecovery(t *testing.T) {
	sts := BuildPostgresStatefulSet(Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}}), "h")
	c := sts.Spec.Template.Spec.Containers[0]
	bin := t.TempDir()
	run := func(p *corev1.Probe, exit int) bool {
		stub := fmt.Sprintf("#!/bin/sh\nexit %d\n", exit)
		if err := os.WriteFile(filepath.Join(bin, "pg_isready"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(p.Exec.Command[0], p.Exec.Command[1:]...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		return cmd.Run() == nil
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	for exit, want := range map[int][2]bool{0: {true, true}, 1: {true, false}, 2: {false, false}, 3: {false, false}} {
		if live, ready := run(c.LivenessProbe, exit), run(c.ReadinessProbe, exit); live != want[0] || ready != want[1] {
			t.Errorf("pg_isready exit %d: liveness %v, readiness %v; want %v, %v", exit, live, ready, want[0], want[1])
		}
	}
	if c.LivenessProbe.PeriodSeconds*c.LivenessProbe.FailureThreshold < 60 {
		t.Errorf("liveness gives up after %ds", c.LivenessProbe.PeriodSeconds*c.LivenessProbe.FailureThreshold)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
