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

// BackupSpec schedules backups of the database and the document storage,
// taken together and consistently by `contract-lucidity backup create`,
// with retention, to a PersistentVolumeClaim or S3-compatible storage.
type BackupSpec struct {
	// Schedule in cron format (a CronJob's schedule), e.g. "0 3 * * *".
	// +kubebuilder:default="0 3 * * *"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +optional
	Schedule string `json:"schedule,omitempty"`
	// TimeZone of the schedule, an IANA name such as Europe/Berlin (default:
	// the time zone of kube-controller-manager, usually UTC).
	// +kubebuilder:validation:MaxLength=64
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// Suspend stops scheduled backups; on-demand backups still run.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// +kubebuilder:default={}
	// +optional
	Retention BackupRetention `json:"retention,omitempty"`
	// Destination is where backups are written.
	Destination BackupDestination `json:"destination"`
	// TrashRetention is how long the files of deleted documents wait in the
	// trash before the worker purges them (STORAGE_TRASH_RETENTION). A
	// backup reads a document deleted after its snapshot from the trash, so
	// a backup must finish within it: it is the backup Job's deadline.
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('720h')",message="spec.backup.trashRetention must be between 1h and 720h (30 days), e.g. 24h: a backup must finish within it"
	// +optional
	TrashRetention *metav1.Duration `json:"trashRetention,omitempty"`
	// Resources of the backup and restore containers.
	// +kubebuilder:default={requests:{cpu:"100m",memory:"128Mi"},limits:{memory:"512Mi"}}
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// BackupRetention: after each backup, a complete backup is deleted when it
// is both beyond the newest keepLast and older than keepDays (the newest
// complete backup is never deleted).
type BackupRetention struct {
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	KeepLast int32 `json:"keepLast,omitempty"`
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3650
	// +optional
	KeepDays *int32 `json:"keepDays,omitempty"`
}

// BackupDestination: exactly one of pvc or s3.
// +kubebuilder:validation:XValidation:rule="has(self.pvc) != has(self.s3)",message="a backup destination sets exactly one of pvc or s3"
type BackupDestination struct {
	// +optional
	PVC *BackupPVC `json:"pvc,omitempty"`
	// +optional
	S3 *BackupS3 `json:"s3,omitempty"`
}

// BackupPVC is a volume mounted at /backups: an existing claim, or
// <name>-backups created by the operator (kept when the instance is
// deleted unless spec.deletionPolicy.deleteData is set).
// +kubebuilder:validation:XValidation:rule="!has(self.claimName) || (!has(self.size) && !has(self.storageClassName))",message="a backup pvc sets either claimName (an existing PersistentVolumeClaim) or size/storageClassName (the operator creates <name>-backups), not both"
type BackupPVC struct {
	// ClaimName of an existing PersistentVolumeClaim in the instance's namespace.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClaimName string `json:"claimName,omitempty"`
	// Size of <name>-backups (default 50Gi). It can grow, never shrink.
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="a backup pvc size must be at least 1Gi, e.g. 50Gi"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// BackupS3 is a bucket of S3-compatible object storage (AWS S3, MinIO,
// SeaweedFS, Ceph RGW, ...).
type BackupS3 struct {
	// Endpoint is host[:port], or http(s)://host[:port]; TLS unless it
	// starts with http://. Default s3.amazonaws.com.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$')",message="s3.endpoint must be host[:port] or http(s)://host[:port], e.g. s3.eu-central-1.amazonaws.com or http://minio.storage:9000"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Bucket name.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	Bucket string `json:"bucket"`
	// Prefix of the backups' keys in the bucket, e.g. contracts/prod.
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
	// CredentialsSecretRef names a Secret with the keys access-key-id and
	// secret-access-key.
	CredentialsSecretRef SecretRef `json:"credentialsSecretRef"`
	// CASecretRef names PEM certificates trusted besides the system's, for
	// an endpoint with a private CA. Default key: ca.crt.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// Egress is where the backup and restore pods may connect for S3 (with
	// spec.networkPolicy.enabled).
	// +kubebuilder:default={}
	// +optional
	Egress BackupEgress `json:"egress,omitempty"`
}

// BackupEgress opens the backup and restore pods to the object storage.
type BackupEgress struct {
	// Internet allows the endpoint's port (443, 80 with http://, or the one
	// given) to every address outside the cluster's ranges: a hosted store.
	// Set false for a store inside the cluster or a private network, and
	// list it in endpoints.
	// +kubebuilder:default=true
	// +optional
	Internet *bool `json:"internet,omitempty"`
	// Endpoints are the store's pods (namespaceSelector/podSelector) or
	// addresses (cidr), on the endpoint's port unless ports are given.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Endpoints []EgressEndpoint `json:"endpoints,omitempty"`
}

// EgressEndpoint is one destination: either cidr, or namespaceSelector
// and/or podSelector.
// +kubebuilder:validation:XValidation:rule="has(self.cidr) != (has(self.namespaceSelector) || has(self.podSelector))",message="each egress endpoint sets either cidr (an address range) or namespaceSelector and/or podSelector (pods in the cluster), not both and not neither"
type EgressEndpoint struct {
	// CIDR, e.g. 10.20.0.15/32.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self) == cidr(self).masked()",message="an egress endpoint cidr must be a CIDR with the host bits zero, e.g. 10.20.0.15/32"
	// +optional
	CIDR string `json:"cidr,omitempty"`
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
	// Ports (TCP) on the pods or addresses (a Service's targetPort, not its port).
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +listType=set
	// +optional
	Ports []int32 `json:"ports,omitempty"`
}

// RestoreFrom fills a new instance from a backup before its first
// migration. It is ignored, never applied over data, once the instance's
// database holds data.
// +kubebuilder:validation:XValidation:rule="!has(self.source.pvc) || has(self.source.pvc.claimName)",message="restoreFrom.source.pvc needs the claimName of the PersistentVolumeClaim holding the backups, e.g. <old-name>-backups"
type RestoreFrom struct {
	// BackupID as `contract-lucidity backup list` shows it, e.g. 20261129T101500Z-3f2a1b.
	// +kubebuilder:validation:Pattern=`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$`
	BackupID string `json:"backupID"`
	// Source is where the backup is (the destination of the instance that took it).
	Source BackupDestination `json:"source"`
}

// BackupStatus reports the backups of the instance.
type BackupStatus struct {
	// LastSuccessfulTime is when the last successful backup finished.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`
	// LastBackupID is the id of the last successful backup.
	// +optional
	LastBackupID string `json:"lastBackupID,omitempty"`
	// LastSizeBytes is the size of its archive.
	// +optional
	LastSizeBytes int64 `json:"lastSizeBytes,omitempty"`
	// LastFailureTime is when the last failed backup Job gave up.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`
	// LastFailureMessage says why.
	// +optional
	LastFailureMessage string `json:"lastFailureMessage,omitempty"`
	// OnDemandToken is the last contractlucidity.io/backup-now value a Job was created for.
	// +optional
	OnDemandToken string `json:"onDemandToken,omitempty"`
}

// RestorePhase is where a restore from spec.*.restoreFrom stands.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type RestorePhase string

// Restore phases.
const (
	RestorePending   RestorePhase = "Pending"
	RestoreRunning   RestorePhase = "Running"
	RestoreSucceeded RestorePhase = "Succeeded"
	RestoreFailed    RestorePhase = "Failed"
	// RestoreSkipped: the data was already initialised; nothing was restored.
	RestoreSkipped RestorePhase = "Skipped"
)

// RestoreStatus records the decision and outcome of restoreFrom. The
// decision is taken once, while the instance is new, and kept.
type RestoreStatus struct {
	BackupID string       `json:"backupID"`
	Phase    RestorePhase `json:"phase"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
}

// Backup and restore conditions and reasons.
const (
	// ConditionBackupSucceeded: the latest finished backup succeeded
	// (Unknown before the first one).
	ConditionBackupSucceeded = "BackupSucceeded"
	// ConditionRestored: the instance was filled from restoreFrom (False
	// while it runs, when it failed, or when it was skipped).
	ConditionRestored = "Restored"

	ReasonBackupSucceeded = "BackupSucceeded"
	ReasonBackupFailed    = "BackupFailed"
	ReasonNoBackupYet     = "NoBackupYet"
	ReasonRestoreSkipped  = "RestoreSkipped"
	ReasonRestoreFailed   = "RestoreFailed"
	ReasonRestoring       = "Restoring"
)

// Annotations that ask for something once.
const (
	// AnnotationBackupNow: a new value (any token) runs one backup Job now.
	AnnotationBackupNow = "contractlucidity.io/backup-now"
)
