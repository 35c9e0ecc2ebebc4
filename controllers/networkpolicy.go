/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// BuildNetworkPolicies implements the access table of design.md §4:
//
//	frontend: reached by the ingress controller only; reaches backend
//	backend:  reached by frontend;                     reaches redis, postgres, AI APIs
//	worker:   reached by nobody;                       reaches redis, postgres, AI APIs
//	redis:    reached by backend, worker;              reaches nothing
//	postgres: reached by backend, worker;              reaches nothing
//
// A default-deny policy selects every pod of the instance for ingress and
// egress; the other policies only add allowed flows (policies are additive),
// plus DNS egress to the cluster DNS only. The migration Job's pods
// (component "migrate") run the backend binary and reach postgres only.
// spec.networkPolicy.egressCIDRs (an external database or Redis) are
// reachable from backend, worker and migrate. The AI egress (policy
// "ai-egress", see aiEgressRules) is the worker's pipeline and the
// backend's provider test. With monitoring.serviceMonitor, Prometheus'
// namespace may scrape the backend and worker metrics ports. cn is what the
// operator detected about the cluster's own addresses.
func BuildNetworkPolicies(cl *clv1.ContractLucidity, cn ClusterNetwork) []*networkingv1.NetworkPolicy {
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	egressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	pods := func(components ...string) []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for _, c := range components {
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, c)}})
		}
		return out
	}
	np := func(suffix, component string, selector metav1.LabelSelector, types []networkingv1.PolicyType,
		ingress []networkingv1.NetworkPolicyIngressRule, egress []networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: objectMeta(cl, Name(cl, suffix), component, true),
			Spec: networkingv1.NetworkPolicySpec{PodSelector: selector, PolicyTypes: types,
				Ingress: ingress, Egress: egress},
		}
	}
	sel := func(component string) metav1.LabelSelector {
		return metav1.LabelSelector{MatchLabels: SelectorLabels(cl, component)}
	}
	extra := extraEgress(cl)
	dataEgress := append(append([]networkingv1.NetworkPolicyEgressRule{
		{To: pods(ComponentRedis), Ports: tcp(PortRedis)}}, databaseEgress(cl)...), extra...)
	// The database is reached by backend, worker, the migration Job and,
	// when there are any, the backup and restore Jobs.
	dbClients := []string{ComponentBackend, ComponentWorker, ComponentMigrate}
	if cl.Spec.Backup != nil {
		dbClients = append(dbClients, ComponentBackup)
	}
	if restoreFrom(cl) != nil {
		dbClients = append(dbClients, ComponentRestore)
	}

	out := []*networkingv1.NetworkPolicy{
		np("default-deny", ComponentNetwork, instanceSelector(cl), both, nil, nil),
		np("allow-dns", ComponentNetwork, instanceSelector(cl), egressOnly, nil, dnsEgressRules(cl)),
		np(ComponentFrontend, ComponentFrontend, sel(ComponentFrontend), both,
			[]networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: cl.Spec.NetworkPolicy.IngressNamespaceSelector.DeepCopy()}},
				Ports: tcp(PortFrontend),
			}},
			[]networkingv1.NetworkPolicyEgressRule{{To: pods(ComponentBackend), Ports: tcp(PortBackend)}}),
		np(ComponentBackend, ComponentBackend, sel(ComponentBackend), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(ComponentFrontend), Ports: tcp(PortBackend)}},
			dataEgress),
		np(ComponentWorker, ComponentWorker, sel(ComponentWorker), both, nil, dataEgress),
		np(ComponentMigrate, ComponentMigrate, sel(ComponentMigrate), both, nil, append(databaseEgress(cl), extra...)),
		np(ComponentRedis, ComponentRedis, sel(ComponentRedis), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(ComponentBackend, ComponentWorker), Ports: tcp(PortRedis)}}, nil),
		np(ComponentPostgres, ComponentPostgres, sel(ComponentPostgres), both,
			[]networkingv1.NetworkPolicyIngressRule{{From: pods(dbClients...), Ports: tcp(PortPostgres)}}, nil),
	}
	out = append(out, backupNetworkPolicies(cl, cn)...)
	if rules := aiEgressRules(cl, cn); len(rules) > 0 {
		backendAndWorker := metav1.LabelSelector{
			MatchLabels: map[string]string{LabelName: AppName, LabelInstance: cl.Name},
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: LabelComponent, Operator: metav1.LabelSelectorOpIn, Values: []string{ComponentBackend, ComponentWorker},
			}},
		}
		out = append(out, np("ai-egress", ComponentNetwork, backendAndWorker, egressOnly, nil, rules))
	}
	if cl.Spec.Monitoring.ServiceMonitor {
		from := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: cl.Spec.Monitoring.PrometheusNamespaceSelector.DeepCopy()}}
		out = append(out,
			np("backend-metrics", ComponentMonitor, sel(ComponentBackend), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				[]networkingv1.NetworkPolicyIngressRule{{From: from, Ports: tcp(PortBackendMetrics)}}, nil),
			np("worker-metrics", ComponentMonitor, sel(ComponentWorker), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				[]networkingv1.NetworkPolicyIngressRule{{From: from, Ports: tcp(PortWorker)}}, nil))
	}
	return out
}

// aiEgressRules are the AI providers backend and worker may reach: HTTPS
// to every address outside the cluster's ranges (unless
// spec.networkPolicy.aiEgress.internet is false), and each listed endpoint
// on its ports. Nothing else: a provider on another address or port is
// blocked until an admin lists it.
func aiEgressRules(cl *clv1.ContractLucidity, cn ClusterNetwork) []networkingv1.NetworkPolicyEgressRule {
	ai := cl.Spec.NetworkPolicy.AIEgress
	var rules []networkingv1.NetworkPolicyEgressRule
	if ptr.Deref(ai.Internet, true) {
		v4, v6 := splitFamilies(ClusterExclusions(cl, cn))
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
			},
			Ports: tcp(443),
		})
	}
	for _, e := range ai.Endpoints {
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: e.NamespaceSelector.DeepCopy(), PodSelector: e.PodSelector.DeepCopy()}
		if e.CIDR != "" {
			peer = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: e.CIDR}}
		}
		ports := e.Ports
		if len(ports) == 0 {
			ports = []int32{443}
		}
		var pp []networkingv1.NetworkPolicyPort
		for _, p := range ports {
			pp = append(pp, tcp(int(p))...)
		}
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: pp})
	}
	return rules
}

// databaseEgress reaches the managed PostgreSQL or the CloudNativePG
// Cluster's pods (any of them may be the primary); an external database
// is reached through spec.networkPolicy.egressCIDRs (extraEgress).
func databaseEgress(cl *clv1.ContractLucidity) []networkingv1.NetworkPolicyEgressRule {
	peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, ComponentPostgres)}}
	if d := cl.Spec.Database; d != nil && d.CloudNativePG != nil {
		peer = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"cnpg.io/cluster": CloudNativePGClusterName(cl)}}}
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: tcp(PortPostgres)}}
}

// extraEgress is spec.networkPolicy.egressCIDRs on any port.
func extraEgress(cl *clv1.ContractLucidity) []networkingv1.NetworkPolicyEgressRule {
	cidrs := cl.Spec.NetworkPolicy.EgressCIDRs
	if len(cidrs) == 0 {
		return nil
	}
	var peers []networkingv1.NetworkPolicyPeer
	for _, c := range cidrs {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: peers}}
}

// dnsEgressRules allow DNS (UDP and TCP) to the cluster DNS pods and the
// listed DNS addresses only.
func dnsEgressRules(cl *clv1.ContractLucidity) []networkingv1.NetworkPolicyEgressRule {
	dns := cl.Spec.NetworkPolicy.DNS
	to := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: dns.NamespaceSelector.DeepCopy(), PodSelector: dns.PodSelector.DeepCopy()}}
	for _, c := range dns.CIDRs {
		to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	var ports []networkingv1.NetworkPolicyPort
	for _, p := range dns.Ports {
		ports = append(ports,
			networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(p))},
			networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(p))})
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: to, Ports: ports}}
}

func tcp(port int) []networkingv1.NetworkPolicyPort {
	return []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt(port))}}
}
