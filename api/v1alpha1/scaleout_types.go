/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// S3Storage keeps documents and reports in a bucket of S3-compatible object
// storage (STORAGE_BACKEND=s3) instead of the volume <name>-storage.
// +kubebuilder:validation:XValidation:rule="!has(self.endpoint) || !self.endpoint.startsWith('http://') || !has(self.tls)",message="spec.storage.s3.tls applies to an https endpoint: remove tls, or use an https:// (or scheme-less) endpoint"
type S3Storage struct {
	// Endpoint is host[:port] or http(s)://host[:port]; TLS unless it
	// starts with http://. Default s3.amazonaws.com. An IP address, or an
	// in-cluster Service name (name.namespace.svc[.cluster-domain]), makes
	// the NetworkPolicies open exactly that address or namespace; any
	// other host opens the port to the addresses outside the cluster.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$')",message="spec.storage.s3.endpoint must be host[:port] or http(s)://host[:port], e.g. s3.eu-central-1.amazonaws.com, minio.storage.svc:9000 or http://10.20.0.15:9000"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Bucket name; the bucket must exist (the services never create it).
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`
	// Prefix of the keys, e.g. contracts/production (several instances in one bucket).
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!_.*'()/-]*$`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Region (default us-east-1).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Region string `json:"region,omitempty"`
	// ForcePathStyle addresses the bucket in the path (MinIO, SeaweedFS and
	// most self-hosted stores need it).
	// +optional
	ForcePathStyle bool `json:"forcePathStyle,omitempty"`
	// Credentials is the Secret with the access key. A change of the
	// Secret rolls backend and worker.
	Credentials S3Credentials `json:"credentials"`
	// TLS trusts a private CA besides the system's.
	// +optional
	TLS *S3TLS `json:"tls,omitempty"`
	// ServerSideEncryption (STORAGE_S3_SSE): Auto asks the store for
	// SSE-S3 and stores without it (logging a warning) when it refuses;
	// Required refuses to start unless the store encrypts; None never asks
	// (encryption configured on the bucket).
	// +kubebuilder:validation:Enum=Auto;Required;None
	// +kubebuilder:default=Auto
	// +optional
	ServerSideEncryption S3Encryption `json:"serverSideEncryption,omitempty"`
	// Egress, when set, lists exactly where backend, worker and the backup
	// and restore pods may connect for the store (with
	// spec.networkPolicy.enabled), instead of what the endpoint implies:
	// for a Service whose targetPort differs from its port, or to narrow
	// the rule to the store's pods.
	// +optional
	Egress *S3StorageEgress `json:"egress,omitempty"`
}

// S3Encryption is the server-side encryption policy of the document bucket.
type S3Encryption string

// Server-side encryption policies.
const (
	S3EncryptionAuto     S3Encryption = "Auto"
	S3EncryptionRequired S3Encryption = "Required"
	S3EncryptionNone     S3Encryption = "None"
)

// S3Credentials names a Secret and its keys.
type S3Credentials struct {
	// SecretName in the instance's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
	// AccessKeyIDKey is the key of the access key id.
	// +kubebuilder:default=access-key-id
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	AccessKeyIDKey string `json:"accessKeyIDKey,omitempty"`
	// SecretAccessKeyKey is the key of the secret access key.
	// +kubebuilder:default=secret-access-key
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretAccessKeyKey string `json:"secretAccessKeyKey,omitempty"`
}

// S3TLS is the trust of an https endpoint. Certificate verification is
// never switched off: a store with a private CA is trusted through its CA.
type S3TLS struct {
	// CABundle holds PEM certificates trusted besides the system's.
	CABundle CABundleRef `json:"caBundle"`
}

// CABundleRef is a key of a Secret or of a ConfigMap.
// +kubebuilder:validation:XValidation:rule="has(self.secret) != has(self.configMap)",message="spec.storage.s3.tls.caBundle sets exactly one of secret or configMap (name and key of the PEM bundle)"
type CABundleRef struct {
	// Secret holding the bundle (default key ca.crt). A change rolls backend and worker.
	// +optional
	Secret *SecretKeyRef `json:"secret,omitempty"`
	// ConfigMap holding the bundle (default key ca.crt), e.g. one filled by
	// cert-manager's trust-manager. Mounted as a file: the pods read it at
	// start, so restart them after changing it.
	// +optional
	ConfigMap *ConfigMapKeyRef `json:"configMap,omitempty"`
}

// ConfigMapKeyRef names a ConfigMap and, optionally, a key in it.
type ConfigMapKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// S3StorageEgress lists the object store's addresses or pods.
type S3StorageEgress struct {
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Endpoints []EgressEndpoint `json:"endpoints"`
}

// QueueDepthSpec scales the worker on its job queue: with KEDA (when the
// cluster serves keda.sh/v1alpha1 ScaledObject) a ScaledObject whose
// redis-streams trigger reads the length of the job stream (jobs queued or
// in progress; finished jobs are deleted from it). Without KEDA the
// worker keeps the CPU HorizontalPodAutoscaler and the
// WorkerAutoscaling condition says why.
type QueueDepthSpec struct {
	// TargetJobsPerReplica is how many unfinished jobs one worker replica
	// should have: replicas = ceil(jobs / target), between minReplicas and
	// maxReplicas. Default: spec.worker.concurrency.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	TargetJobsPerReplica int32 `json:"targetJobsPerReplica,omitempty"`
	// PollingIntervalSeconds is how often KEDA reads the queue.
	// +kubebuilder:default=15
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=600
	// +optional
	PollingIntervalSeconds int32 `json:"pollingIntervalSeconds,omitempty"`
	// CooldownPeriodSeconds: how long the queue stays short before workers
	// are removed (the HPA's scale-down stabilisation).
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:validation:Maximum=3600
	// +optional
	CooldownPeriodSeconds int32 `json:"cooldownPeriodSeconds,omitempty"`
	// KEDANamespaceSelector selects the namespace of KEDA's operator, which
	// reads the queue from Redis: the Redis NetworkPolicy lets it in.
	// +kubebuilder:default={matchLabels:{"kubernetes.io/metadata.name":"keda"}}
	// +optional
	KEDANamespaceSelector *metav1.LabelSelector `json:"kedaNamespaceSelector,omitempty"`
}

// RedisPersistence keeps the managed Redis' append-only file on a
// PersistentVolumeClaim <name>-redis-data, so queued jobs survive a
// restart of Redis (without it they live on an emptyDir and the worker's
// sweep re-enqueues them from the database).
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="spec.redis.managed.persistence.storageClassName cannot change once the volume exists"
type RedisPersistence struct {
	// Size of the volume; it can grow, never shrink.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('100Mi')) >= 0",message="spec.redis.managed.persistence.size must be at least 100Mi, e.g. 1Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="spec.redis.managed.persistence.size cannot shrink: a PersistentVolumeClaim only grows"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// StorageClassName; unset uses the cluster default.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// Scale-out conditions and reasons.
const (
	// ConditionWorkerAutoscaling: how the worker scales when
	// spec.worker.autoscaling is set (absent otherwise).
	ConditionWorkerAutoscaling = "WorkerAutoscaling"
	// ReasonQueueDepth: a KEDA ScaledObject scales the worker on the queue.
	ReasonQueueDepth = "QueueDepth"
	// ReasonCPU: the worker scales on CPU (no queueDepth asked for).
	ReasonCPU = "CPU"
	// ReasonKEDANotInstalled: queueDepth was asked for, the cluster does
	// not serve KEDA's ScaledObject; the worker scales on CPU meanwhile.
	ReasonKEDANotInstalled = "KEDANotInstalled"
	// ReasonObjectStorage: the documents are in S3 (StorageReady).
	ReasonObjectStorage = "ObjectStorage"
)
