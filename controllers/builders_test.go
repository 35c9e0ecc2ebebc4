/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

func TestGeneratedValuesHaveTheRequiredStrength(t *testing.T) {
	for i := 0; i < 50; i++ {
		pw, err := randomAlnum(40)(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 40 || strings.Trim(pw, alnum) != "" {
			t.Fatalf("password %q: want 40 letters and digits", pw)
		}
		k, err := randomHex(32)(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := hex.DecodeString(k); err != nil || len(b) != 32 {
			t.Fatalf("encryption key %q is not 32 bytes of hex", k)
		}
	}
	a, _ := randomAlnum(40)(rand.Reader)
	b, _ := randomAlnum(40)(rand.Reader)
	if a == b {
		t.Fatal("two generated passwords are equal")
	}
	// A short random stream is an error, not a weak secret.
	if _, err := randomAlnum(40)(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("randomAlnum accepted a short stream")
	}
}

func TestUserSecretRefsReplaceGeneratedSecrets(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "mine"}
	cl.Spec.Database = &clv1.DatabaseSpec{External: &clv1.ExternalDatabase{SecretRef: clv1.SecretRef{Name: "db"}}}
	var names []string
	for _, g := range GeneratedSecrets(cl) {
		names = append(names, g.Name)
	}
	if want := []string{"x-encryption", "x-admin", "x-redis"}; !sameSet(names, want) {
		t.Fatalf("generated %v, want %v", names, want)
	}
	env := map[string]string{}
	for _, e := range secretEnvFor(cl, ComponentBackend) {
		env[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
	}
	for k, v := range map[string]string{"JWT_SECRET_KEY": "mine/jwt-secret-key", "POSTGRES_HOST": "db/host",
		"POSTGRES_PASSWORD": "db/password", "REDIS_PASSWORD": "x-redis/password"} {
		if env[k] != v {
			t.Errorf("%s from %q, want %q", k, env[k], v)
		}
	}
	if _, ok := ConfigData(cl)["POSTGRES_HOST"]; ok {
		t.Error("ConfigMap carries POSTGRES_HOST for an external database")
	}
}

func TestConfigChangeRollsOnlyTheAffectedComponents(t *testing.T) {
	base := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	hashes := func(cl *clv1.ContractLucidity) map[string]string {
		out := map[string]string{}
		for _, c := range AppComponents {
			out[c] = ConfigHash(configKeysFor(c, ConfigData(cl)), nil)
		}
		return out
	}
	before := hashes(base)
	cases := []struct {
		edit  func(*clv1.ContractLucidity)
		rolls []string
	}{
		{func(cl *clv1.ContractLucidity) { cl.Spec.Worker.Concurrency = 4 }, []string{ComponentWorker}},
		{func(cl *clv1.ContractLucidity) { cl.Spec.RateLimits.APIPerMinutePerUser = 50 }, []string{ComponentBackend}},
		{func(cl *clv1.ContractLucidity) { cl.Spec.Uploads.MaxSizeMB = 20 }, []string{ComponentFrontend, ComponentBackend, ComponentWorker}},
		{func(cl *clv1.ContractLucidity) { cl.Spec.Ingress.TrustedProxies = []string{"203.0.113.0/24"} },
			[]string{ComponentFrontend, ComponentBackend}},
	}
	for i, tc := range cases {
		cl := base.DeepCopy()
		tc.edit(cl)
		after := hashes(cl)
		var rolled []string
		for _, c := range AppComponents {
			if after[c] != before[c] {
				rolled = append(rolled, c)
			}
		}
		if !sameSet(rolled, tc.rolls) {
			t.Errorf("case %d rolls %v, want %v", i, rolled, tc.rolls)
		}
	}
}

// TestNetworkPoliciesImplementTheAccessTable evaluates the built policies
// with the NetworkPolicy semantics (a pod selected by no policy of a type is
// open for that direction; otherwise the union of the rules applies) for
// every pair of the instance's pods and the outside.
func TestNetworkPoliciesImplementTheAccessTable(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "apps"}})
	policies := BuildNetworkPolicies(cl, ClusterNetwork{})
	type peer struct {
		component string // "" for a pod outside the instance
		namespace string
		ip        string // set for destinations outside the cluster
	}
	ingressCtl := peer{namespace: "ingress-nginx"}
	other := peer{namespace: "apps"} // another application's pod in the same namespace
	internet := peer{ip: "203.0.113.7"}
	pod := func(c string) peer { return peer{component: c, namespace: "apps"} }
	ports := map[string]int{ComponentFrontend: PortFrontend, ComponentBackend: PortBackend, ComponentWorker: PortWorker,
		ComponentRedis: PortRedis, ComponentPostgres: PortPostgres, ComponentMigrate: 8080}

	podLabels := func(p peer) labels.Set {
		if p.component == "kube-dns" {
			return labels.Set{"k8s-app": "kube-dns"}
		}
		if p.component == "" {
			return labels.Set{"app": "other"}
		}
		return labels.Set(Labels(cl, p.component))
	}
	nsLabels := func(p peer) labels.Set { return labels.Set{"kubernetes.io/metadata.name": p.namespace} }
	matches := func(sel *metav1.LabelSelector, set labels.Set) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		return s.Matches(set)
	}
	peerMatches := func(np *networkingv1.NetworkPolicy, rule networkingv1.NetworkPolicyPeer, p peer) bool {
		if rule.IPBlock != nil {
			if p.ip == "" {
				return false
			}
			a := netip.MustParseAddr(p.ip)
			for _, e := range rule.IPBlock.Except {
				if netip.MustParsePrefix(e).Contains(a) {
					return false
				}
			}
			return netip.MustParsePrefix(rule.IPBlock.CIDR).Contains(a)
		}
		if p.ip != "" {
			return false
		}
		if rule.NamespaceSelector == nil && p.namespace != np.Namespace {
			return false
		}
		if rule.NamespaceSelector != nil && !matches(rule.NamespaceSelector, nsLabels(p)) {
			return false
		}
		return rule.PodSelector == nil || matches(rule.PodSelector, podLabels(p))
	}
	portOK := func(ps []networkingv1.NetworkPolicyPort, port int) bool {
		if len(ps) == 0 {
			return true
		}
		for _, p := range ps {
			if ptr.Deref(p.Protocol, corev1.ProtocolTCP) == corev1.ProtocolTCP && (p.Port == nil || p.Port.IntValue() == port) {
				return true
			}
		}
		return false
	}
	has := func(types []networkingv1.PolicyType, pt networkingv1.PolicyType) bool {
		for _, x := range types {
			if x == pt {
				return true
			}
		}
		return false
	}
	// allowed evaluates egress of src and ingress of dst for TCP to port.
	allowed := func(src, dst peer, port int) bool {
		egressOK, selectedE := false, false
		ingressOK, selectedI := false, false
		for _, np := range policies {
			if src.component != "" && src.namespace == np.Namespace && has(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) &&
				matches(&np.Spec.PodSelector, podLabels(src)) {
				selectedE = true
				for _, r := range np.Spec.Egress {
					if !portOK(r.Ports, port) {
						continue
					}
					if len(r.To) == 0 {
						egressOK = true
					}
					for _, to := range r.To {
						if peerMatches(np, to, dst) {
							egressOK = true
						}
					}
				}
			}
			if dst.component != "" && dst.namespace == np.Namespace && has(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
				matches(&np.Spec.PodSelector, podLabels(dst)) {
				selectedI = true
				for _, r := range np.Spec.Ingress {
					if !portOK(r.Ports, port) {
						continue
					}
					for _, from := range r.From {
						if peerMatches(np, from, src) {
							ingressOK = true
						}
					}
				}
			}
		}
		return (!selectedE || egressOK) && (!selectedI || ingressOK)
	}

	components := []string{ComponentFrontend, ComponentBackend, ComponentWorker, ComponentRedis, ComponentPostgres, ComponentMigrate}
	want := map[string]bool{
		"ingress->frontend":  true,
		"frontend->backend":  true,
		"backend->redis":     true,
		"backend->postgres":  true,
		"worker->redis":      true,
		"worker->postgres":   true,
		"migrate->postgres":  true,
		"worker->internet":   true,
		"backend->internet":  true, // "Test AI provider"
		"other->frontend":    false,
		"internet->frontend": false,
	}
	name := func(p peer) string {
		switch {
		case p == ingressCtl:
			return "ingress"
		case p == other:
			return "other"
		case p == internet:
			return "internet"
		}
		return p.component
	}
	sources := []peer{ingressCtl, other}
	dests := []peer{internet}
	for _, c := range components {
		sources = append(sources, pod(c))
		dests = append(dests, pod(c))
	}
	for _, src := range sources {
		for _, dst := range dests {
			if src == dst || (src.component == "" && dst.component == "") {
				continue // not the instance's traffic
			}
			port := 443
			if dst.component != "" {
				port = ports[dst.component]
			}
			k := fmt.Sprintf("%s->%s", name(src), name(dst))
			if got := allowed(src, dst, port); got != want[k] {
				t.Errorf("%s on port %d: allowed=%v, want %v", k, port, got, want[k])
			}
		}
	}
	// DNS works for every pod of the instance, and only at the cluster DNS.
	dns := peer{namespace: "kube-system", component: "kube-dns"}
	for _, c := range components {
		if !allowed(pod(c), dns, 53) {
			t.Errorf("%s cannot resolve names", c)
		}
		if allowed(pod(c), peer{namespace: "kube-system"}, 53) {
			t.Errorf("%s may send port 53 to any kube-system pod", c)
		}
	}
}

func TestUserSecretValuesAreChecked(t *testing.T) {
	cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
	cl.Spec.Auth.JWTSecretRef = &clv1.SecretKeyRef{Name: "j"}
	cl.Spec.Auth.EncryptionKeySecretRef = &clv1.SecretKeyRef{Name: "e"}
	jwt, enc := jwtKey(cl), encryptionKey(cl)
	cases := []struct {
		key  SecretKey
		val  string
		fine bool
	}{
		{jwt, strings.Repeat("a", 32), true},
		{jwt, "short", false},
		{enc, strings.Repeat("ab", 32), true},
		{enc, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true},
		{enc, strings.Repeat("ab", 16), false},
		{enc, "not a key", false},
	}
	for _, tc := range cases {
		if msg := checkUserSecret(cl, tc.key, []byte(tc.val)); (msg == "") != tc.fine {
			t.Errorf("%s=%q: message %q, want fine=%v", tc.key.Key, tc.val, msg, tc.fine)
		}
	}
}

// The AI endpoints the NetworkPolicy opens are the ones the services' SSRF
// guard accepts: listed ranges by CIDR, selector endpoints (no fixed
// address) by allowing private addresses, only while the policy confines them.
func TestAIEndpointsReachTheServicesSSRFGuard(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ollama"}}
	for _, tc := range []struct {
		name      string
		endpoints []clv1.AIEndpoint
		policyOff bool
		want      map[string]string
	}{
		{"none", nil, false, map[string]string{}},
		{"ranges", []clv1.AIEndpoint{{CIDR: "10.20.0.15/32"}, {CIDR: "192.168.7.0/24"}}, false,
			map[string]string{"AI_PRIVATE_ENDPOINT_CIDRS": "10.20.0.15/32,192.168.7.0/24"}},
		{"a model server by selector", []clv1.AIEndpoint{{PodSelector: sel}}, false,
			map[string]string{"AI_ALLOW_PRIVATE_ENDPOINTS": "true"}},
		{"selector without NetworkPolicies stays refused", []clv1.AIEndpoint{{PodSelector: sel}}, true,
			map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
			cl.Spec.NetworkPolicy.AIEgress.Endpoints = tc.endpoints
			if tc.policyOff {
				cl.Spec.NetworkPolicy.Enabled = ptr.To(false)
			}
			data := ConfigData(cl)
			got := map[string]string{}
			for _, k := range []string{"AI_PRIVATE_ENDPOINT_CIDRS", "AI_ALLOW_PRIVATE_ENDPOINTS"} {
				if v, ok := data[k]; ok {
					got[k] = v
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The managed PostgreSQL accepts the connections of every pod the spec
// allows at once (backend pools, worker pools and job locks), in steps of
// 100 so that ordinary scaling does not restart it.
func TestPostgresMaxConnectionsFitTheSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*clv1.ContractLucidity)
		want int
	}{
		{"defaults", nil, 200},
		{"64 jobs on 4 workers", func(cl *clv1.ContractLucidity) {
			cl.Spec.Worker.Concurrency = 64
			cl.Spec.Worker.Replicas = ptr.To[int32](4)
		}, 400}, // 10*1 + 74*4 + 40 = 346
		{"autoscaled to 10 workers", func(cl *clv1.ContractLucidity) {
			cl.Spec.Worker.Autoscaling = &clv1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 10}
			cl.Spec.Backend.Autoscaling = &clv1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 6}
		}, 300}, // 60 + 12*10 + 40 = 220
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := Defaulted(&clv1.ContractLucidity{ObjectMeta: metav1.ObjectMeta{Name: "x"}})
			if tc.edit != nil {
				tc.edit(cl)
			}
			if got := PostgresMaxConnections(cl); got != tc.want {
				t.Fatalf("max_connections %d, want %d", got, tc.want)
			}
			sts := BuildPostgresStatefulSet(cl, "hash")
			if args := strings.Join(sts.Spec.Template.Spec.Containers[0].Args, " "); args != fmt.Sprintf("-c max_connections=%d", tc.want) {
				t.Fatalf("postgres args %q", args)
			}
		})
	}
}
