/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// Default values. They mirror the +kubebuilder:default markers of the API so
// builders give the same result for an object the API server defaulted and
// for one read from a file (golden tests); the envtest suite checks that
// both agree.
const (
	DefaultVersion       = "0.1.0"
	DefaultPostgresImage = "pgvector/pgvector:0.8.0-pg16"
	DefaultRedisImage    = "redis:7.4.2-alpine"
	DefaultAdminEmail    = "admin@example.com"
	DefaultIngressClass  = "nginx"
)

// Defaulted returns a copy of cl with every unset optional field set to its default.
func Defaulted(in *clv1.ContractLucidity) *clv1.ContractLucidity {
	cl := in.DeepCopy()
	s := &cl.Spec
	if s.Environment == "" {
		s.Environment = clv1.EnvironmentDevelopment
	}
	if s.Version == "" {
		s.Version = DefaultVersion
	}
	if s.Images.PullPolicy == "" {
		s.Images.PullPolicy = corev1.PullIfNotPresent
	}
	if s.Ingress.ClassName == "" {
		s.Ingress.ClassName = DefaultIngressClass
	}
	if s.Ingress.TLS != nil && s.Ingress.TLS.IssuerRef != nil && s.Ingress.TLS.IssuerRef.Kind == "" {
		s.Ingress.TLS.IssuerRef.Kind = "ClusterIssuer"
	}
	if s.Auth.AccessTokenTTL == nil {
		s.Auth.AccessTokenTTL = &metav1.Duration{Duration: 30 * time.Minute}
	}
	if s.Auth.RefreshTokenTTL == nil {
		s.Auth.RefreshTokenTTL = &metav1.Duration{Duration: 168 * time.Hour}
	}
	if s.Auth.InitialAdminEmail == "" {
		s.Auth.InitialAdminEmail = DefaultAdminEmail
	}
	if s.Uploads.MaxSizeMB == 0 {
		s.Uploads.MaxSizeMB = 100
	}
	if len(s.Uploads.FileTypes) == 0 {
		s.Uploads.FileTypes = []string{"pdf", "docx", "png", "jpg", "jpeg", "tiff"}
	}
	if s.RateLimits.LoginPerMinutePerIP == 0 {
		s.RateLimits.LoginPerMinutePerIP = 5
	}
	if s.RateLimits.UploadsPerMinutePerUser == 0 {
		s.RateLimits.UploadsPerMinutePerUser = 10
	}
	if s.RateLimits.APIPerMinutePerUser == 0 {
		s.RateLimits.APIPerMinutePerUser = 100
	}
	if s.Storage.Size == nil {
		s.Storage.Size = ptr.To(resource.MustParse("50Gi"))
	}
	if s.Storage.AccessMode == "" {
		s.Storage.AccessMode = corev1.ReadWriteMany
	}
	if s.Database == nil {
		s.Database = &clv1.DatabaseSpec{}
	}
	if s.Redis == nil {
		s.Redis = &clv1.RedisSpec{}
	}
	if s.Database.Managed == nil && s.Database.External == nil && s.Database.CloudNativePG == nil {
		s.Database.Managed = &clv1.ManagedDatabase{}
	}
	if m := s.Database.Managed; m != nil {
		if m.Storage.Size == nil {
			m.Storage.Size = ptr.To(resource.MustParse("20Gi"))
		}
		if m.Image == "" {
			m.Image = DefaultPostgresImage
		}
		if isEmptyResources(m.Resources) {
			m.Resources = resources("100m", "256Mi", "1Gi")
		}
	}
	defaultCloudNativePG(s.Database.CloudNativePG)
	defaultBackup(s.Backup)
	if rf := restoreFrom(cl); rf != nil && rf.Source.S3 != nil && rf.Source.S3.Egress.Internet == nil {
		rf.Source.S3.Egress.Internet = ptr.To(true)
	}
	if s.Redis.Managed == nil && s.Redis.External == nil {
		s.Redis.Managed = &clv1.ManagedRedis{}
	}
	if m := s.Redis.Managed; m != nil {
		if m.Image == "" {
			m.Image = DefaultRedisImage
		}
		if isEmptyResources(m.Resources) {
			m.Resources = resources("50m", "64Mi", "512Mi")
		}
	}
	for _, c := range []*clv1.ComponentSpec{&s.Frontend, &s.Backend, &s.Worker.ComponentSpec} {
		if c.Replicas == nil {
			c.Replicas = ptr.To[int32](1)
		}
		if a := c.Autoscaling; a != nil {
			if a.MinReplicas == 0 {
				a.MinReplicas = 1
			}
			if a.TargetCPUUtilizationPercentage == 0 {
				a.TargetCPUUtilizationPercentage = 80
			}
		}
	}
	if s.Worker.Concurrency == 0 {
		s.Worker.Concurrency = 2
	}
	if s.NetworkPolicy.Enabled == nil {
		s.NetworkPolicy.Enabled = ptr.To(true)
	}
	if s.NetworkPolicy.IngressNamespaceSelector == nil {
		s.NetworkPolicy.IngressNamespaceSelector = &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"},
		}
	}
	np := &s.NetworkPolicy
	if np.AIEgress.Internet == nil {
		np.AIEgress.Internet = ptr.To(true)
	}
	for i := range np.AIEgress.Endpoints {
		if len(np.AIEgress.Endpoints[i].Ports) == 0 {
			np.AIEgress.Endpoints[i].Ports = []int32{443}
		}
	}
	if np.DNS.NamespaceSelector == nil {
		np.DNS.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}}
	}
	if np.DNS.PodSelector == nil {
		np.DNS.PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}}
	}
	if len(np.DNS.Ports) == 0 {
		np.DNS.Ports = []int32{53}
	}
	if s.Monitoring.PrometheusNamespaceSelector == nil {
		s.Monitoring.PrometheusNamespaceSelector = &metav1.LabelSelector{
			MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
		}
	}
	return cl
}

// componentResources are used when a component's resources are empty.
func componentResources(component string) corev1.ResourceRequirements {
	switch component {
	case ComponentFrontend:
		return resources("50m", "64Mi", "256Mi")
	case ComponentWorker:
		return resources("250m", "512Mi", "2Gi")
	default:
		return resources("100m", "128Mi", "512Mi")
	}
}

func resources(cpu, mem, memLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memLimit)},
	}
}

func isEmptyResources(r corev1.ResourceRequirements) bool {
	return len(r.Requests) == 0 && len(r.Limits) == 0 && len(r.Claims) == 0
}

// networkPolicyEnabled is spec.networkPolicy.enabled (default true).
func networkPolicyEnabled(cl *clv1.ContractLucidity) bool {
	return ptr.Deref(cl.Spec.NetworkPolicy.Enabled, true)
}

// DefaultCloudNativePGImage is a CloudNativePG "standard" image: it carries pgvector.
const DefaultCloudNativePGImage = "ghcr.io/cloudnative-pg/postgresql:16-standard-bookworm"

func defaultCloudNativePG(c *clv1.CloudNativePGDatabase) {
	if c == nil {
		return
	}
	if c.Instances == 0 {
		c.Instances = 3
	}
	if c.Storage.Size == nil {
		c.Storage.Size = ptr.To(resource.MustParse("20Gi"))
	}
	if isEmptyResources(c.Resources) {
		c.Resources = resources("100m", "256Mi", "1Gi")
	}
	if c.ImageName == "" {
		c.ImageName = DefaultCloudNativePGImage
	}
}

func defaultBackup(b *clv1.BackupSpec) {
	if b == nil {
		return
	}
	if b.Schedule == "" {
		b.Schedule = "0 3 * * *"
	}
	if b.Retention.KeepLast == 0 {
		b.Retention.KeepLast = 7
	}
	if b.Retention.KeepDays == nil {
		b.Retention.KeepDays = ptr.To[int32](30)
	}
	if b.TrashRetention == nil {
		b.TrashRetention = &metav1.Duration{Duration: 24 * time.Hour}
	}
	if isEmptyResources(b.Resources) {
		b.Resources = resources("100m", "128Mi", "512Mi")
	}
	if s3 := b.Destination.S3; s3 != nil && s3.Egress.Internet == nil {
		s3.Egress.Internet = ptr.To(true)
	}
}
