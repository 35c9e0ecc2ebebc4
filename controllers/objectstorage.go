/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// spec.storage.s3: documents and reports in an S3-compatible bucket
// (STORAGE_BACKEND=s3 and STORAGE_S3_*, README "Document storage"). Backend,
// worker and the backup and restore pods then mount no storage volume,
// backend and worker are not co-located, and the NetworkPolicies open the
// object store.

// storageCADir is where the CA bundle of spec.storage.s3.tls is mounted.
const storageCADir = "/etc/contract-lucidity/storage-ca"

// DefaultS3Endpoint is the endpoint when spec.storage.s3.endpoint is unset
// (the services' default).
const DefaultS3Endpoint = "s3.amazonaws.com"

// ObjectStorage reports whether documents are kept in S3.
func ObjectStorage(cl *clv1.ContractLucidity) bool { return cl.Spec.Storage.S3 != nil }

// s3SSE maps spec.storage.s3.serverSideEncryption to STORAGE_S3_SSE.
var s3SSE = map[clv1.S3Encryption]string{
	clv1.S3EncryptionAuto: "auto", clv1.S3EncryptionRequired: "s3", clv1.S3EncryptionNone: "none",
}

// storageConfig is the non-secret storage configuration: STORAGE_PATH for
// the volume, STORAGE_BACKEND=s3 and STORAGE_S3_* for a bucket.
func storageConfig(cl *clv1.ContractLucidity) map[string]string {
	o := cl.Spec.Storage.S3
	if o == nil {
		return map[string]string{"STORAGE_PATH": StoragePath}
	}
	d := map[string]string{
		"STORAGE_BACKEND":             "s3",
		"STORAGE_S3_BUCKET":           o.Bucket,
		"STORAGE_S3_FORCE_PATH_STYLE": strconv.FormatBool(o.ForcePathStyle),
		"STORAGE_S3_SSE":              s3SSE[o.ServerSideEncryption],
	}
	for k, v := range map[string]string{"STORAGE_S3_ENDPOINT": o.Endpoint, "STORAGE_S3_REGION": o.Region,
		"STORAGE_S3_PREFIX": strings.Trim(o.Prefix, "/")} {
		if v != "" {
			d[k] = v
		}
	}
	if o.TLS != nil {
		d["STORAGE_S3_CA_FILE"] = storageCADir + "/" + S3CADefaultKey
	}
	return d
}

// storageSecretEnv are the bucket's credentials, for every pod that reads
// or writes documents.
func storageSecretEnv(cl *clv1.ContractLucidity) []corev1.EnvVar {
	o := cl.Spec.Storage.S3
	if o == nil {
		return nil
	}
	c := o.Credentials
	return []corev1.EnvVar{
		secretEnv("STORAGE_S3_ACCESS_KEY_ID", SecretKey{c.SecretName, keyOr(c.AccessKeyIDKey, S3AccessKeyIDKey)}, false),
		secretEnv("STORAGE_S3_SECRET_ACCESS_KEY", SecretKey{c.SecretName, keyOr(c.SecretAccessKeyKey, S3SecretAccessKeyKey)}, false),
	}
}

// isS3SecretKey reports whether k is the bucket's secret access key.
func isS3SecretKey(cl *clv1.ContractLucidity, k SecretKey) bool {
	o := cl.Spec.Storage.S3
	return o != nil && k == SecretKey{o.Credentials.SecretName, keyOr(o.Credentials.SecretAccessKeyKey, S3SecretAccessKeyKey)}
}

// storageCASecret is the Secret key of the CA bundle, if it is a Secret.
func storageCASecret(cl *clv1.ContractLucidity) *SecretKey {
	o := cl.Spec.Storage.S3
	if o == nil || o.TLS == nil || o.TLS.CABundle.Secret == nil {
		return nil
	}
	r := o.TLS.CABundle.Secret
	return &SecretKey{r.Name, keyOr(r.Key, S3CADefaultKey)}
}

// storageSecretKeys are the user Secret keys the object storage reads:
// checked before anything rolls, and part of the pods' config hash.
func storageSecretKeys(cl *clv1.ContractLucidity) []SecretKey {
	var out []SecretKey
	for _, e := range storageSecretEnv(cl) {
		r := e.ValueFrom.SecretKeyRef
		out = append(out, SecretKey{r.Name, r.Key})
	}
	if k := storageCASecret(cl); k != nil {
		out = append(out, *k)
	}
	return out
}

// storageVolume is the volume documents are read from and written to: the
// PVC <name>-storage, or, with S3, the CA bundle when there is one (nil
// otherwise). readOnly mounts the PVC read-only (a backup).
func storageVolume(cl *clv1.ContractLucidity, readOnly bool) (*corev1.Volume, *corev1.VolumeMount) {
	o := cl.Spec.Storage.S3
	if o == nil {
		return &corev1.Volume{Name: "storage", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: Name(cl, "storage"), ReadOnly: readOnly}}},
			&corev1.VolumeMount{Name: "storage", MountPath: StoragePath, ReadOnly: readOnly}
	}
	if o.TLS == nil {
		return nil, nil
	}
	v := corev1.Volume{Name: "storage-ca"}
	if s := o.TLS.CABundle.Secret; s != nil {
		v.Secret = &corev1.SecretVolumeSource{SecretName: s.Name,
			Items: []corev1.KeyToPath{{Key: keyOr(s.Key, S3CADefaultKey), Path: S3CADefaultKey}}}
	} else {
		c := o.TLS.CABundle.ConfigMap
		v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: c.Name},
			Items: []corev1.KeyToPath{{Key: keyOr(c.Key, S3CADefaultKey), Path: S3CADefaultKey}}}
	}
	return &v, &corev1.VolumeMount{Name: "storage-ca", MountPath: storageCADir, ReadOnly: true}
}

// S3EndpointKind is what an endpoint's host names, for the NetworkPolicy.
type S3EndpointKind int

// Endpoint kinds.
const (
	// S3External: a DNS name outside the cluster (its addresses are unknown
	// and may change): the port to every address outside the cluster.
	S3External S3EndpointKind = iota
	// S3Address: an IP address: exactly that address.
	S3Address
	// S3Service: an in-cluster Service (name, name.namespace.svc[.domain]):
	// its namespace.
	S3Service
)

// S3Endpoint is an endpoint as the NetworkPolicy sees it.
type S3Endpoint struct {
	Kind S3EndpointKind
	// Host is the host as written; Namespace the Service's namespace (S3Service).
	Host, Namespace string
	Port            int
}

// ParseS3Endpoint reads an endpoint (host[:port] or http(s)://host[:port];
// empty means DefaultS3Endpoint) as the services do: port 443, or 80 with
// http://, unless one is given. namespace is the instance's, where a
// single-label name resolves.
func ParseS3Endpoint(endpoint, namespace string) S3Endpoint {
	if endpoint == "" {
		endpoint = DefaultS3Endpoint
	}
	hostport := endpoint
	if strings.Contains(endpoint, "://") {
		if u, err := url.Parse(endpoint); err == nil {
			hostport = u.Host
		}
	}
	hostport = strings.TrimSuffix(hostport, "/")
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	e := S3Endpoint{Kind: S3External, Host: host, Port: s3Port(endpoint)}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	switch {
	case net.ParseIP(host) != nil:
		e.Kind = S3Address
	case len(labels) == 1:
		e.Kind, e.Namespace = S3Service, namespace
	case len(labels) >= 3 && labels[2] == "svc":
		e.Kind, e.Namespace = S3Service, labels[1]
	}
	return e
}

// storageEgressRules open the object store to the pods that read or write
// documents: spec.storage.s3.egress.endpoints when listed, else what the
// endpoint names (an address, an in-cluster Service's namespace, or the
// Internet outside the cluster's ranges), on its port only.
func storageEgressRules(cl *clv1.ContractLucidity, cn ClusterNetwork) []networkingv1.NetworkPolicyEgressRule {
	o := cl.Spec.Storage.S3
	if o == nil {
		return nil
	}
	e := ParseS3Endpoint(o.Endpoint, cl.Namespace)
	if o.Egress != nil {
		return endpointRules(o.Egress.Endpoints, e.Port)
	}
	var to []networkingv1.NetworkPolicyPeer
	switch e.Kind {
	case S3Address:
		bits := 32
		if net.ParseIP(e.Host).To4() == nil {
			bits = 128
		}
		to = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: e.Host + "/" + strconv.Itoa(bits)}}}
	case S3Service:
		to = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": e.Namespace}}}}
	default:
		v4, v6 := splitFamilies(ClusterExclusions(cl, cn))
		to = []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
			{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
		}
	}
	return []networkingv1.NetworkPolicyEgressRule{{To: to, Ports: tcp(e.Port)}}
}

// endpointRules is one rule per listed endpoint, on its ports or port.
func endpointRules(endpoints []clv1.EgressEndpoint, port int) []networkingv1.NetworkPolicyEgressRule {
	var rules []networkingv1.NetworkPolicyEgressRule
	for _, e := range endpoints {
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: e.NamespaceSelector.DeepCopy(), PodSelector: e.PodSelector.DeepCopy()}
		if e.CIDR != "" {
			peer = networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: e.CIDR}}
		}
		var ports []networkingv1.NetworkPolicyPort
		for _, p := range e.Ports {
			ports = append(ports, tcp(int(p))...)
		}
		if len(ports) == 0 {
			ports = tcp(port)
		}
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: ports})
	}
	return rules
}

// reconcileObjectStorage reports the bucket. The volume of an instance
// switched from it to S3 is kept: it is the source of `storage migrate`
// and the way back, and only the user deletes it.
func (r *ContractLucidityReconciler) reconcileObjectStorage(ctx context.Context, s *state) error {
	meta.RemoveStatusCondition(&s.status.Conditions, clv1.ConditionCoLocated)
	o := s.d.Spec.Storage.S3
	msg := fmt.Sprintf("documents are kept in bucket %s at %s", o.Bucket, cmp.Or(o.Endpoint, DefaultS3Endpoint))
	name := Name(s.cl, "storage")
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.cl.Namespace, Name: name}, &corev1.PersistentVolumeClaim{})
	switch {
	case err == nil:
		msg += fmt.Sprintf("; the volume %s from before is kept, not mounted: delete it yourself once `contract-lucidity storage migrate --to s3` copied it and a backup was taken", name)
	case !isNotFound(err):
		return fmt.Errorf("get PersistentVolumeClaim %s: %w", name, err)
	}
	s.volumeKept = err == nil
	s.condition(clv1.ConditionStorageReady, true, clv1.ReasonObjectStorage, msg)
	return nil
}
