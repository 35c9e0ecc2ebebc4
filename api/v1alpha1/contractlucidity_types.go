/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Environment selects development or production behaviour of the services.
// +kubebuilder:validation:Enum=development;production
type Environment string

const (
	// EnvironmentDevelopment relaxes the services' startup checks.
	EnvironmentDevelopment Environment = "development"
	// EnvironmentProduction enables strict checks (TLS, explicit CORS, strong secrets).
	EnvironmentProduction Environment = "production"
)

// ContractLucidity is one instance of the Contract Lucidity platform: frontend,
// backend, worker, PostgreSQL (managed or external), Redis (managed or
// external), storage, ingress and network policies.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cl,categories=all
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must start with a letter, contain only lowercase letters, digits and '-', and be at most 40 characters (child objects are named <name>-<component>)"
type ContractLucidity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ContractLuciditySpec   `json:"spec,omitempty"`
	Status ContractLucidityStatus `json:"status,omitempty"`
}

// ContractLucidityList is a list of ContractLucidity.
// +kubebuilder:object:root=true
type ContractLucidityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContractLucidity `json:"items"`
}

// ContractLuciditySpec is the desired state of an instance.
//
// +kubebuilder:validation:XValidation:rule="self.environment != 'production' || (self.ingress.enabled && has(self.ingress.tls))",message="spec.environment is production, which requires TLS at the ingress: set spec.ingress.enabled: true and spec.ingress.tls.secretName (add spec.ingress.tls.issuerRef to have cert-manager issue the certificate)"
// +kubebuilder:validation:XValidation:rule="self.environment != 'production' || !has(self.cors.origins) || self.cors.origins.all(o, !o.contains('*'))",message="spec.cors.origins must not contain '*' when spec.environment is production: list the exact origins, e.g. https://contracts.example.com"
// +kubebuilder:validation:XValidation:rule="self.environment != 'production' || !has(self.cors.origins) || self.cors.origins.all(o, o.startsWith('https://'))",message="spec.cors.origins must be https:// origins when spec.environment is production (the instance is served over TLS; an http:// origin lets a page served without TLS call the API): use e.g. https://contracts.example.com"
// +kubebuilder:validation:XValidation:rule="!self.ingress.enabled || size(self.host) > 0",message="spec.host is required when spec.ingress.enabled is true: set spec.host to the public DNS name, e.g. contracts.example.com"
// +kubebuilder:validation:XValidation:rule="self.environment != 'production' || size(self.host) > 0",message="spec.host is required when spec.environment is production: set spec.host to the public DNS name, e.g. contracts.example.com"
type ContractLuciditySpec struct {
	// Environment: production enables the services' strict checks.
	// +kubebuilder:default=development
	// +optional
	Environment Environment `json:"environment,omitempty"`

	// Version is the application image tag (ghcr.io/contract-lucidity/contract-lucidity:<version>).
	// Changing it runs the database migrations of the new version before the
	// backend and worker roll out.
	// +kubebuilder:default="0.1.0"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	// +optional
	Version string `json:"version,omitempty"`

	// Images overrides the image per component (default: the application
	// image at spec.version).
	// +kubebuilder:default={}
	// +optional
	Images ImagesSpec `json:"images,omitempty"`

	// Host is the public DNS name (used by the Ingress, API_BASE_URL and the default CORS origin).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Host string `json:"host,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Ingress IngressSpec `json:"ingress,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Auth AuthSpec `json:"auth,omitempty"`

	// +kubebuilder:default={}
	// +optional
	CORS CORSSpec `json:"cors,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Uploads UploadsSpec `json:"uploads,omitempty"`

	// +kubebuilder:default={}
	// +optional
	RateLimits RateLimitsSpec `json:"rateLimits,omitempty"`

	// Storage is the shared document storage (PVC <name>-storage, mounted at
	// /data/storage in backend and worker).
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// Database is PostgreSQL: managed by the operator (default) or external.
	// +kubebuilder:default={managed:{}}
	// +optional
	Database *DatabaseSpec `json:"database,omitempty"`

	// Redis is the job queue and rate-limit store: managed (default) or external.
	// +kubebuilder:default={managed:{}}
	// +optional
	Redis *RedisSpec `json:"redis,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Frontend ComponentSpec `json:"frontend,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Backend ComponentSpec `json:"backend,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Worker WorkerSpec `json:"worker,omitempty"`

	// +kubebuilder:default={}
	// +optional
	NetworkPolicy NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Monitoring MonitoringSpec `json:"monitoring,omitempty"`

	// Paused freezes the instance: the operator changes nothing (not even
	// recreating deleted children) until it is set back to false.
	// +kubebuilder:default=false
	// +optional
	Paused bool `json:"paused,omitempty"`

	// DeletionPolicy says what happens to data when the resource is deleted.
	// By default PVCs and generated Secrets survive.
	// +kubebuilder:default={}
	// +optional
	DeletionPolicy DeletionPolicySpec `json:"deletionPolicy,omitempty"`

	// Backup schedules backups of the database and the document storage
	// (backup_types.go). Unset: no backups.
	// +optional
	Backup *BackupSpec `json:"backup,omitempty"`
}

// ImagesSpec overrides images. Empty means the default.
type ImagesSpec struct {
	// Frontend image (default ghcr.io/contract-lucidity/contract-lucidity:<version>).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Frontend string `json:"frontend,omitempty"`
	// Backend image, also used by the migration Job.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Backend string `json:"backend,omitempty"`
	// Worker image.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Worker string `json:"worker,omitempty"`
	// PullPolicy for the application images.
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +kubebuilder:default=IfNotPresent
	// +optional
	PullPolicy corev1.PullPolicy `json:"pullPolicy,omitempty"`
	// PullSecrets for private registries.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	PullSecrets []corev1.LocalObjectReference `json:"pullSecrets,omitempty"`
}

// IngressSpec exposes the frontend (and through it /api) to the outside.
type IngressSpec struct {
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled"`
	// ClassName of the ingress controller. Rate-limit annotations are for ingress-nginx.
	// +kubebuilder:default=nginx
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClassName string `json:"className,omitempty"`
	// Annotations added to every Ingress object of the instance.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// TLS terminates HTTPS at the ingress. Required in production.
	// +optional
	TLS *IngressTLS `json:"tls,omitempty"`
	// TrustedProxies are further proxies whose X-Forwarded-For the services
	// believe (TRUSTED_PROXIES), besides the cluster's own ranges
	// (spec.networkPolicy.clusterCIDRs, or the private ranges), which hold
	// the two proxies in the cluster: the ingress controller, which writes
	// X-Forwarded-For, and the frontend, which appends the ingress
	// controller's address before the backend. List an L7 load balancer in
	// front of the ingress controller that appends the client's address, or
	// the nodes' range when the ingress controller runs in the host network
	// on public addresses. Rate limits and the audit log see the right-most
	// address not in these ranges.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c) && cidr(c).prefixLength() > 0 && cidr(c) == cidr(c).masked())",message="spec.ingress.trustedProxies must be network ranges with the host bits zero and narrower than the whole address space (trusting every address lets any client choose its own address), e.g. 203.0.113.0/24"
	// +optional
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// IngressTLS names the certificate Secret and, optionally, a cert-manager issuer.
type IngressTLS struct {
	// SecretName holds the certificate (written by cert-manager when issuerRef is set).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
	// IssuerRef adds the cert-manager.io/issuer or cert-manager.io/cluster-issuer annotation.
	// +optional
	IssuerRef *IssuerRef `json:"issuerRef,omitempty"`
}

// IssuerRef names a cert-manager Issuer or ClusterIssuer.
type IssuerRef struct {
	// +kubebuilder:validation:Enum=Issuer;ClusterIssuer
	// +kubebuilder:default=ClusterIssuer
	// +optional
	Kind string `json:"kind,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeyRef points at one key of a Secret in the instance's namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret; the default depends on the field.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// SecretRef points at a whole Secret in the instance's namespace.
type SecretRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// AuthSpec configures tokens and the first administrator.
type AuthSpec struct {
	// AccessTokenTTL: whole minutes between 1m and 24h.
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h') && duration(self).getSeconds() % 60 == 0",message="spec.auth.accessTokenTTL must be whole minutes between 1m and 24h, e.g. 30m"
	// +optional
	AccessTokenTTL *metav1.Duration `json:"accessTokenTTL,omitempty"`
	// RefreshTokenTTL: whole days between 24h and 8760h (365 days).
	// +kubebuilder:default="168h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h') && duration(self) <= duration('8760h') && duration(self).getSeconds() % 86400 == 0",message="spec.auth.refreshTokenTTL must be whole days between 24h and 8760h, e.g. 168h (7 days)"
	// +optional
	RefreshTokenTTL *metav1.Duration `json:"refreshTokenTTL,omitempty"`
	// JWTSecretRef uses an existing Secret for JWT_SECRET_KEY (>= 32
	// characters) instead of a generated one. Default key: jwt-secret-key.
	// +optional
	JWTSecretRef *SecretKeyRef `json:"jwtSecretRef,omitempty"`
	// EncryptionKeySecretRef uses an existing Secret for ENCRYPTION_KEY (32
	// bytes as 64 hex characters) instead of a generated one. Default key: encryption-key.
	// +optional
	EncryptionKeySecretRef *SecretKeyRef `json:"encryptionKeySecretRef,omitempty"`
	// InitialAdminEmail is the first administrator's login; its generated
	// password is in the Secret <name>-admin (key password) and must be changed at first login.
	// +kubebuilder:default="admin@example.com"
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	// +optional
	InitialAdminEmail string `json:"initialAdminEmail,omitempty"`
}

// CORSSpec lists the browser origins allowed to call the API.
type CORSSpec struct {
	// Origins; empty means the instance's own origin (https://<host>, or
	// http://localhost:3000 without a host). In production every origin must
	// start with https:// and none may contain '*'.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	Origins []string `json:"origins,omitempty"`
}

// UploadsSpec limits uploads.
type UploadsSpec struct {
	// MaxSizeMB is the upload limit in MiB (also the ingress body size limit).
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10240
	// +optional
	MaxSizeMB int32 `json:"maxSizeMB,omitempty"`
	// FileTypes seeds the supported file types (admins can edit them later in the UI).
	// +kubebuilder:default={pdf,docx,png,jpg,jpeg,tiff}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Enum=pdf;docx;doc;txt;png;jpg;jpeg;tiff;tif
	// +listType=set
	// +optional
	FileTypes []string `json:"fileTypes,omitempty"`
}

// RateLimitsSpec are requests per minute, enforced by the backend through
// Redis and, coarsely per client IP, by ingress-nginx.
type RateLimitsSpec struct {
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	LoginPerMinutePerIP int32 `json:"loginPerMinutePerIP,omitempty"`
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	UploadsPerMinutePerUser int32 `json:"uploadsPerMinutePerUser,omitempty"`
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	APIPerMinutePerUser int32 `json:"apiPerMinutePerUser,omitempty"`
}

// StorageSpec is the shared document storage volume.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="spec.storage.storageClassName cannot change once the volume exists: copy the data to a new instance instead"
type StorageSpec struct {
	// Size of the volume. It can grow (when the StorageClass allows volume
	// expansion) but never shrink.
	// +kubebuilder:default="50Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="spec.storage.size must be at least 1Gi, e.g. 50Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="spec.storage.size cannot shrink: a PersistentVolumeClaim only grows; keep the current size or set a larger one"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// StorageClassName; unset uses the cluster default.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// AccessMode: ReadWriteMany (default) lets backend and worker run on any
	// node; with ReadWriteOnce the operator schedules them onto one node.
	// +kubebuilder:validation:Enum=ReadWriteMany;ReadWriteOnce
	// +kubebuilder:default=ReadWriteMany
	// +optional
	AccessMode corev1.PersistentVolumeAccessMode `json:"accessMode,omitempty"`
}

// DatabaseSpec: exactly one of managed, external or cloudNativePG.
// +kubebuilder:validation:XValidation:rule="(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.cloudNativePG) ? 1 : 0) == 1",message="spec.database must set exactly one of managed, external or cloudNativePG: use managed: {} for an operator-run PostgreSQL, cloudNativePG: {} for a highly available one run by CloudNativePG, or external.secretRef for your own"
// +kubebuilder:validation:XValidation:rule="has(self.cloudNativePG) == has(oldSelf.cloudNativePG)",message="spec.database.cloudNativePG cannot be switched on or off: the data would stay behind; back up with spec.backup and create a new instance with restoreFrom instead"
type DatabaseSpec struct {
	// +optional
	Managed *ManagedDatabase `json:"managed,omitempty"`
	// +optional
	External *ExternalDatabase `json:"external,omitempty"`
	// CloudNativePG runs a highly available PostgreSQL cluster (cnpg_types.go).
	// +optional
	CloudNativePG *CloudNativePGDatabase `json:"cloudNativePG,omitempty"`
}

// ManagedDatabase is a single-instance PostgreSQL StatefulSet with pgvector.
type ManagedDatabase struct {
	// +kubebuilder:default={}
	// +optional
	Storage VolumeSpec `json:"storage,omitempty"`
	// Image with pgvector; keep the PostgreSQL major version when changing it.
	// +kubebuilder:default="pgvector/pgvector:0.8.0-pg16"
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`
	// +kubebuilder:default={requests:{cpu:"100m",memory:"256Mi"},limits:{memory:"1Gi"}}
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// RestoreFrom fills a new instance from a backup before its first
	// migration (backup_types.go).
	// +optional
	RestoreFrom *RestoreFrom `json:"restoreFrom,omitempty"`
}

// VolumeSpec sizes the database volume.
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="spec.database.managed.storage.storageClassName cannot change once the volume exists: dump and restore into a new instance instead"
type VolumeSpec struct {
	// Size of the volume. It can grow (when the StorageClass allows volume
	// expansion; the operator grows the PersistentVolumeClaim) but never shrink.
	// +kubebuilder:default="20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="spec.database.managed.storage.size must be at least 1Gi, e.g. 20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="spec.database.managed.storage.size cannot shrink: a PersistentVolumeClaim only grows; keep the current size or set a larger one"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// ExternalDatabase reads the connection from a Secret with the keys host,
// port (optional, 5432), user, password, dbname and sslmode (optional).
type ExternalDatabase struct {
	SecretRef SecretRef `json:"secretRef"`
}

// RedisSpec: exactly one of managed or external.
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="spec.redis must set exactly one of managed or external: use managed: {} for an operator-run Redis, or external.secretRef for your own"
type RedisSpec struct {
	// +optional
	Managed *ManagedRedis `json:"managed,omitempty"`
	// +optional
	External *ExternalRedis `json:"external,omitempty"`
}

// ManagedRedis is a single Redis Deployment with a password and no published port.
type ManagedRedis struct {
	// +kubebuilder:default="redis:7.4.2-alpine"
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Image string `json:"image,omitempty"`
	// +kubebuilder:default={requests:{cpu:"50m",memory:"64Mi"},limits:{memory:"512Mi"}}
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalRedis reads the connection from a Secret with the keys url
// (redis:// or rediss://) and password (optional).
type ExternalRedis struct {
	SecretRef SecretRef `json:"secretRef"`
}

// ComponentSpec tunes one application Deployment.
type ComponentSpec struct {
	// Replicas (ignored while autoscaling is set).
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Resources; when empty a per-component default is used.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
	// Env is appended to the generated environment (a later entry wins).
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Autoscaling adds a HorizontalPodAutoscaler on CPU.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
}

// AutoscalingSpec configures a HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
type AutoscalingSpec struct {
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	MinReplicas int32 `json:"minReplicas,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxReplicas int32 `json:"maxReplicas"`
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=100
	// +optional
	TargetCPUUtilizationPercentage int32 `json:"targetCPUUtilizationPercentage,omitempty"`
}

// WorkerSpec is a ComponentSpec plus the pipeline concurrency.
type WorkerSpec struct {
	ComponentSpec `json:",inline"`
	// Concurrency is the number of documents one worker processes at a time.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Concurrency int32 `json:"concurrency,omitempty"`
}

// NetworkPolicySpec locks the instance's traffic down to design.md §4.
type NetworkPolicySpec struct {
	// Enabled (default true) creates the policies; disable only when the
	// cluster's network plugin does not enforce NetworkPolicy.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
	// IngressNamespaceSelector selects the namespace(s) of the ingress
	// controller allowed to reach the frontend (default: ingress-nginx).
	// +kubebuilder:default={matchLabels:{"kubernetes.io/metadata.name":"ingress-nginx"}}
	// +optional
	IngressNamespaceSelector *metav1.LabelSelector `json:"ingressNamespaceSelector,omitempty"`
	// EgressCIDRs are extra destinations backend, worker and the migration Job
	// may reach on any port (list an external database's or Redis' addresses here).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.networkPolicy.egressCIDRs must be CIDRs, e.g. 10.0.0.0/16"
	// +optional
	EgressCIDRs []string `json:"egressCIDRs,omitempty"`
	// ClusterCIDRs are the cluster's own address ranges (pods, services,
	// nodes), which the AI egress to the Internet must not reach. Unset
	// means every private and shared range: 10.0.0.0/8, 172.16.0.0/12,
	// 192.168.0.0/16, 100.64.0.0/10 and fc00::/7, which hold the pod and
	// service ranges of nearly every cluster; set it when yours use other
	// (public) ranges. In both cases the operator also excludes the
	// link-local ranges (cloud metadata endpoints), the service ranges of
	// the cluster's ServiceCIDR objects and the API server's addresses (the
	// default/kubernetes EndpointSlice). They are also the proxies whose
	// X-Forwarded-For the services believe (see spec.ingress.trustedProxies).
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c) && cidr(c).prefixLength() > 0 && cidr(c) == cidr(c).masked())",message="spec.networkPolicy.clusterCIDRs must be network ranges with the host bits zero and narrower than the whole address space, e.g. 10.0.0.0/8 or fd00::/8"
	// +optional
	ClusterCIDRs []string `json:"clusterCIDRs,omitempty"`
	// AIEgress is what backend and worker may reach as AI providers (the
	// worker's pipeline and the backend's "Test AI provider").
	// +kubebuilder:default={}
	// +optional
	AIEgress AIEgressSpec `json:"aiEgress,omitempty"`
	// DNS is where every pod of the instance may send DNS queries.
	// +kubebuilder:default={}
	// +optional
	DNS DNSSpec `json:"dns,omitempty"`
}

// AIEgressSpec opens backend and worker to AI providers and nothing else.
type AIEgressSpec struct {
	// Internet allows HTTPS (TCP 443) to every address outside the cluster's
	// ranges (spec.networkPolicy.clusterCIDRs and what the operator adds to
	// them): the hosted AI APIs. Set false to allow only the endpoints below.
	// +kubebuilder:default=true
	// +optional
	Internet *bool `json:"internet,omitempty"`
	// Endpoints are further AI endpoints on the ports they serve: an
	// in-cluster model server (namespaceSelector/podSelector), or an address
	// range (cidr) such as a model server inside the cluster's ranges, which
	// the Internet rule excludes. A provider base URL on any other address or
	// port is blocked.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Endpoints []AIEndpoint `json:"endpoints,omitempty"`
}

// AIEndpoint is one AI endpoint: either cidr, or namespaceSelector and/or podSelector.
// +kubebuilder:validation:XValidation:rule="has(self.cidr) != (has(self.namespaceSelector) || has(self.podSelector))",message="each spec.networkPolicy.aiEgress.endpoints entry sets either cidr (an address range) or namespaceSelector and/or podSelector (an in-cluster model server), not both and not neither"
type AIEndpoint struct {
	// CIDR of the endpoint, e.g. 10.20.0.15/32 or 203.0.113.0/24.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self) == cidr(self).masked()",message="spec.networkPolicy.aiEgress.endpoints[].cidr must be a CIDR with the host bits zero, e.g. 10.20.0.15/32 or 203.0.113.0/24"
	// +optional
	CIDR string `json:"cidr,omitempty"`
	// NamespaceSelector selects the namespaces of an in-cluster model server
	// (every pod there, or those podSelector selects).
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// PodSelector selects the model server's pods (in the instance's
	// namespace unless namespaceSelector is set).
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
	// Ports (TCP) the endpoint serves on its pods, e.g. 11434 for Ollama or
	// 8000 for vLLM (a Service's targetPort, not its port).
	// +kubebuilder:default={443}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	Ports []int32 `json:"ports,omitempty"`
}

// DNSSpec names the cluster DNS servers.
type DNSSpec struct {
	// NamespaceSelector selects the namespace of the cluster DNS (default kube-system).
	// +kubebuilder:default={matchLabels:{"kubernetes.io/metadata.name":"kube-system"}}
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// PodSelector selects the DNS server pods there (default
	// k8s-app=kube-dns, the label of kube-dns and CoreDNS).
	// +kubebuilder:default={matchLabels:{"k8s-app":"kube-dns"}}
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
	// CIDRs are further DNS server addresses, e.g. 169.254.20.10/32 for
	// NodeLocal DNSCache (it runs in the host network, where no pod selector
	// matches it).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c) && cidr(c) == cidr(c).masked())",message="spec.networkPolicy.dns.cidrs must be CIDRs with the host bits zero, e.g. 169.254.20.10/32"
	// +optional
	CIDRs []string `json:"cidrs,omitempty"`
	// Ports the DNS servers listen on, UDP and TCP (the pods' ports: 53 for
	// CoreDNS, 5353 for OpenShift's DNS).
	// +kubebuilder:default={53}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	Ports []int32 `json:"ports,omitempty"`
}

// MonitoringSpec configures Prometheus integration.
type MonitoringSpec struct {
	// ServiceMonitor creates a prometheus-operator ServiceMonitor for backend
	// and worker metrics when the monitoring.coreos.com CRD is served.
	// +kubebuilder:default=false
	// +optional
	ServiceMonitor bool `json:"serviceMonitor,omitempty"`
	// PrometheusNamespaceSelector selects the namespace(s) Prometheus scrapes
	// from; with serviceMonitor a NetworkPolicy admits it to the metrics ports.
	// +kubebuilder:default={matchLabels:{"kubernetes.io/metadata.name":"monitoring"}}
	// +optional
	PrometheusNamespaceSelector *metav1.LabelSelector `json:"prometheusNamespaceSelector,omitempty"`
}

// DeletionPolicySpec opts into deleting data with the resource.
type DeletionPolicySpec struct {
	// DeleteData deletes the storage PVC and PostgreSQL's PVCs with the
	// resource (owner references / StatefulSet PVC retention). Default false: they survive.
	// +kubebuilder:default=false
	// +optional
	DeleteData bool `json:"deleteData,omitempty"`
	// DeleteSecrets deletes the generated Secrets with the resource. Default
	// false: they survive, so a re-created instance finds its database password.
	// +kubebuilder:default=false
	// +optional
	DeleteSecrets bool `json:"deleteSecrets,omitempty"`
}

// Condition types.
const (
	ConditionReady         = "Ready"
	ConditionProgressing   = "Progressing"
	ConditionDegraded      = "Degraded"
	ConditionSecretsReady  = "SecretsReady"
	ConditionConfigReady   = "ConfigReady"
	ConditionStorageReady  = "StorageReady"
	ConditionDatabaseReady = "DatabaseReady"
	// ConditionDatabaseVolume: the managed database's PVC has the size
	// spec.database.managed.storage.size asks for (False: the grow was refused).
	ConditionDatabaseVolume  = "DatabaseVolumeSized"
	ConditionRedisReady      = "RedisReady"
	ConditionMigrationsReady = "MigrationsReady"
	ConditionFrontendReady   = "FrontendReady"
	ConditionBackendReady    = "BackendReady"
	ConditionWorkerReady     = "WorkerReady"
	ConditionIngressReady    = "IngressReady"
	// ConditionCoLocated: backend and worker share one node (ReadWriteOnce storage).
	ConditionCoLocated = "CoLocated"
	// ConditionServiceMonitorReady: the ServiceMonitor asked for by
	// spec.monitoring.serviceMonitor is applied (absent when it is off).
	ConditionServiceMonitorReady = "ServiceMonitorReady"
	// ConditionNetworkPoliciesReady: the NetworkPolicies are applied; the
	// message says what the AI egress allows and what could not be detected.
	ConditionNetworkPoliciesReady = "NetworkPoliciesReady"
)

// Condition reasons the operator sets (besides those of the concern steps).
const (
	ReasonApplied              = "Applied"
	ReasonDisabled             = "Disabled"
	ReasonCRDNotServed         = "CRDNotServed"
	ReasonReadWriteOnceStorage = "ReadWriteOnceStorage"
	// ReasonClusterRangesPartlyDetected: the policies are applied, but the
	// service ranges or the API server's addresses could not be read.
	ReasonClusterRangesPartlyDetected = "ClusterRangesPartlyDetected"
)

// ContractLucidityStatus is the observed state.
type ContractLucidityStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Components has ready/desired replicas per component.
	// +optional
	Components ComponentsStatus `json:"components,omitempty"`
	// URL where the instance is reachable.
	// +optional
	URL string `json:"url,omitempty"`
	// Version the backend runs (the last version whose migrations succeeded and rolled out).
	// +optional
	Version string `json:"version,omitempty"`
	// MigratedVersion is the last version whose migration Job succeeded.
	// +optional
	MigratedVersion string `json:"migratedVersion,omitempty"`
	// AdminSecretName holds the initial administrator's password (key password).
	// +optional
	AdminSecretName string `json:"adminSecretName,omitempty"`
	// Backup reports the last successful and the last failed backup.
	// +optional
	Backup *BackupStatus `json:"backup,omitempty"`
	// Restore records whether and how restoreFrom filled the instance.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`
	// DataInitialized is true once the instance holds data that depends on
	// its generated Secrets (a migration succeeded, or the managed
	// database's volume exists); from then on a lost generated Secret is
	// reported, never silently replaced.
	// +optional
	DataInitialized bool `json:"dataInitialized,omitempty"`
	// Secrets is the lifecycle of each generated Secret (creation, loss, rotation).
	// +listType=map
	// +listMapKey=kind
	// +optional
	Secrets []SecretStatus `json:"secrets,omitempty"`
}

// ComponentsStatus lists replicas per component.
type ComponentsStatus struct {
	// +optional
	Frontend ReplicaStatus `json:"frontend,omitempty"`
	// +optional
	Backend ReplicaStatus `json:"backend,omitempty"`
	// +optional
	Worker ReplicaStatus `json:"worker,omitempty"`
	// +optional
	Postgres ReplicaStatus `json:"postgres,omitempty"`
	// +optional
	Redis ReplicaStatus `json:"redis,omitempty"`
}

// ReplicaStatus is ready versus desired replicas.
type ReplicaStatus struct {
	// +optional
	Ready int32 `json:"ready,omitempty"`
	// +optional
	Desired int32 `json:"desired,omitempty"`
}

func init() {
	SchemeBuilder.Register(&ContractLucidity{}, &ContractLucidityList{})
}
