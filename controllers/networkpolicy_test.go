/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// dest is a destination of a connection: an address, or a pod in a
// namespace (by labels), and a port.
type dest struct {
	ip        string
	nsLabels  map[string]string
	podLabels map[string]string
	proto     corev1.Protocol
	port      int32
}

func (d dest) String() string {
	if d.ip != "" {
		return fmt.Sprintf("%s %s/%d", d.ip, d.proto, d.port)
	}
	return fmt.Sprintf("pod %v in namespace %v %s/%d", d.podLabels, d.nsLabels, d.proto, d.port)
}

// egressAllowed evaluates the instance's NetworkPolicies as a network plugin
// does: a pod selected by a policy with Egress may open a connection when
// any egress rule of any policy selecting it matches the destination.
func egressAllowed(t *testing.T, policies []networkingv1.NetworkPolicy, ns string, pod map[string]string, d dest) bool {
	t.Helper()
	matches := func(sel *metav1.LabelSelector, l map[string]string) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		return s.Matches(labels.Set(l))
	}
	for _, np := range policies {
		if !matches(&np.Spec.PodSelector, pod) {
			continue
		}
		for _, r := range np.Spec.Egress {
			portOK := len(r.Ports) == 0
			for _, p := range r.Ports {
				proto := corev1.ProtocolTCP
				if p.Protocol != nil {
					proto = *p.Protocol
				}
				if proto == d.proto && (p.Port == nil || p.Port.IntVal == d.port) {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			if len(r.To) == 0 {
				return true
			}
			for _, peer := range r.To {
				switch {
				case peer.IPBlock != nil:
					if d.ip == "" {
						continue // which pod addresses an ipBlock matches is up to the plugin; not counted
					}
					a := netip.MustParseAddr(d.ip)
					if !netip.MustParsePrefix(peer.IPBlock.CIDR).Contains(a) {
						continue
					}
					excepted := false
					for _, e := range peer.IPBlock.Except {
						excepted = excepted || netip.MustParsePrefix(e).Contains(a)
					}
					if !excepted {
						return true
					}
				case d.ip != "":
					continue // a selector matches pods, not addresses
				case peer.NamespaceSelector == nil:
					if d.nsLabels["kubernetes.io/metadata.name"] == ns && matches(peer.PodSelector, d.podLabels) {
						return true
					}
				default:
					podOK := peer.PodSelector == nil || matches(peer.PodSelector, d.podLabels)
					if matches(peer.NamespaceSelector, d.nsLabels) && podOK {
						return true
					}
				}
			}
		}
	}
	return false
}

// The instance's pods reach exactly what design.md §4 and the spec allow:
// backend and worker reach AI providers on the Internet over HTTPS and the
// endpoints the admin listed on their ports, but not the cluster's own
// addresses (pods, services, the API server, cloud metadata); every pod
// resolves names only at the cluster DNS.
func TestNetworkPoliciesAllowOnlyTheAIAndDNSEgressTheSpecNames(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.NetworkPolicy.AIEgress.Endpoints = []clv1.AIEndpoint{
			{CIDR: "10.20.0.15/32", Ports: []int32{8000}},
			{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ai"}},
				PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "ollama"}}, Ports: []int32{11434}},
		}
	})
	n := cl.Name
	// What the cluster says about its own addresses, as the operator reads it.
	var apiServer, service string
	slice := &discoveryv1.EndpointSlice{}
	if err := k8sClient.Get(ctx, key("default", "kubernetes"), slice); err != nil {
		t.Fatalf("the API server's EndpointSlice: %v", err)
	}
	apiServer = slice.Endpoints[0].Addresses[0]
	svcCIDRs := &networkingv1.ServiceCIDRList{}
	if err := k8sClient.List(ctx, svcCIDRs); err != nil || len(svcCIDRs.Items) == 0 {
		t.Fatalf("ServiceCIDRs: %v (%d)", err, len(svcCIDRs.Items))
	}
	service = netip.MustParsePrefix(svcCIDRs.Items[0].Spec.CIDRs[0]).Addr().Next().String()

	var policies []networkingv1.NetworkPolicy
	eventually(t, wait, "AI egress policy", func() error {
		l := &networkingv1.NetworkPolicyList{}
		if err := k8sClient.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{LabelInstance: n}); err != nil {
			return err
		}
		policies = l.Items
		for _, np := range policies {
			if np.Name == n+"-ai-egress" {
				return nil
			}
		}
		return fmt.Errorf("no %s-ai-egress among %d policies", n, len(policies))
	})
	waitCondition(t, ns, n, clv1.ConditionNetworkPoliciesReady, metav1.ConditionTrue, clv1.ReasonApplied)

	tcp := func(ip string, port int32) dest { return dest{ip: ip, proto: corev1.ProtocolTCP, port: port} }
	udp := func(ip string, port int32) dest { return dest{ip: ip, proto: corev1.ProtocolUDP, port: port} }
	pod := func(nsName string, l map[string]string, proto corev1.Protocol, port int32) dest {
		return dest{nsLabels: map[string]string{"kubernetes.io/metadata.name": nsName}, podLabels: l, proto: proto, port: port}
	}
	coreDNS := map[string]string{"k8s-app": "kube-dns"}
	ollama := map[string]string{"app": "ollama"}
	internet := []dest{tcp("162.159.140.245", 443), tcp("2606:4700::6810:1", 443)}
	cluster := []dest{
		tcp("10.96.0.1", 443), tcp("10.244.1.7", 443), tcp("172.20.0.5", 443), tcp("192.168.3.4", 443),
		tcp("100.64.2.3", 443), tcp("fd00:10:96::1", 443), tcp("169.254.169.254", 443),
		tcp(apiServer, 443), tcp(service, 443),
		pod("monitoring", map[string]string{"app": "grafana"}, corev1.ProtocolTCP, 443),
	}
	for _, c := range []struct {
		component    string
		allow, block []dest
	}{
		{ComponentWorker,
			append(append([]dest{}, internet...), tcp("10.20.0.15", 8000), pod("ai", ollama, corev1.ProtocolTCP, 11434),
				pod("kube-system", coreDNS, corev1.ProtocolUDP, 53), pod("kube-system", coreDNS, corev1.ProtocolTCP, 53)),
			append(append([]dest{}, cluster...), tcp("162.159.140.245", 80), tcp("10.20.0.15", 443),
				pod("ai", ollama, corev1.ProtocolTCP, 8080), udp("8.8.8.8", 53), tcp("1.1.1.1", 53),
				pod("kube-system", map[string]string{"k8s-app": "metrics-server"}, corev1.ProtocolUDP, 53))},
		// The backend tests AI providers ("Test AI provider"): the same AI egress.
		{ComponentBackend,
			append(append([]dest{}, internet...), tcp("10.20.0.15", 8000), pod("ai", ollama, corev1.ProtocolTCP, 11434),
				pod("kube-system", coreDNS, corev1.ProtocolUDP, 53)),
			append(append([]dest{}, cluster...), udp("8.8.8.8", 53))},
		{ComponentFrontend,
			[]dest{pod("kube-system", coreDNS, corev1.ProtocolUDP, 53), pod(ns, SelectorLabels(cl, ComponentBackend), corev1.ProtocolTCP, PortBackend)},
			append(append(append([]dest{}, internet...), tcp("10.20.0.15", 8000), udp("8.8.8.8", 53)), cluster...)},
		{ComponentMigrate, []dest{pod(ns, SelectorLabels(cl, ComponentPostgres), corev1.ProtocolTCP, PortPostgres)},
			append(append([]dest{}, internet...), tcp("10.20.0.15", 8000))},
	} {
		labels := Labels(cl, c.component)
		for _, d := range c.allow {
			if !egressAllowed(t, policies, ns, labels, d) {
				t.Errorf("%s cannot reach %s", c.component, d)
			}
		}
		for _, d := range c.block {
			if egressAllowed(t, policies, ns, labels, d) {
				t.Errorf("%s may reach %s", c.component, d)
			}
		}
	}

	// Without the Internet rule only the listed endpoints remain.
	updateCL(t, ns, n, func(cl *clv1.ContractLucidity) { cl.Spec.NetworkPolicy.AIEgress.Internet = ptrFalse() })
	eventually(t, wait, "Internet egress removed", func() error {
		l := &networkingv1.NetworkPolicyList{}
		if err := k8sClient.List(ctx, l, client.InNamespace(ns), client.MatchingLabels{LabelInstance: n}); err != nil {
			return err
		}
		worker := Labels(cl, ComponentWorker)
		if egressAllowed(t, l.Items, ns, worker, internet[0]) {
			return fmt.Errorf("worker still reaches %s", internet[0])
		}
		if !egressAllowed(t, l.Items, ns, worker, tcp("10.20.0.15", 8000)) {
			return fmt.Errorf("worker lost its endpoint")
		}
		return nil
	})
}

// spec.networkPolicy.clusterCIDRs replaces the private ranges: a cluster
// with public pod addresses lists them, and the AI egress excludes them.
func TestClusterCIDRsReplaceThePrivateRanges(t *testing.T) {
	ns, cl := readyInstance(t, func(cl *clv1.ContractLucidity) {
		cl.Spec.NetworkPolicy.ClusterCIDRs = []string{"198.18.0.0/15", "2001:db8:42::/56"}
	})
	var policies []networkingv1.NetworkPolicy
	eventually(t, wait, "AI egress policy", func() error {
		np := &networkingv1.NetworkPolicy{}
		if err := k8sClient.Get(ctx, key(ns, cl.Name+"-ai-egress"), np); err != nil {
			return err
		}
		policies = []networkingv1.NetworkPolicy{*np}
		return nil
	})
	worker := Labels(cl, ComponentWorker)
	for ip, want := range map[string]bool{"198.19.4.5": false, "2001:db8:42::9": false, "169.254.169.254": false,
		"10.1.2.3": true, "162.159.140.245": true} {
		if got := egressAllowed(t, policies, ns, worker, dest{ip: ip, proto: corev1.ProtocolTCP, port: 443}); got != want {
			t.Errorf("worker reaches %s:443 = %v, want %v", ip, got, want)
		}
	}
}

func ptrFalse() *bool { b := false; return &b }
