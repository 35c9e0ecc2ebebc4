/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// CloudNativePGDatabase delegates PostgreSQL to CloudNativePG: the operator
// creates a postgresql.cnpg.io/v1 Cluster <name>-pg (CloudNativePG 1.27 or
// later must be installed) and connects the application to its
// <name>-pg-rw Service with the credentials of its <name>-pg-app Secret.
type CloudNativePGDatabase struct {
	// Instances: one primary and instances-1 streaming replicas; CloudNativePG
	// fails over to a replica when the primary is lost.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9
	// +optional
	Instances int32 `json:"instances,omitempty"`
	// Storage of each instance.
	// +kubebuilder:default={}
	// +optional
	Storage CloudNativePGStorage `json:"storage,omitempty"`
	// Resources of each PostgreSQL instance.
	// +kubebuilder:default={requests:{cpu:"100m",memory:"256Mi"},limits:{memory:"1Gi"}}
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// ImageName is a PostgreSQL image with pgvector: CloudNativePG's
	// "standard" images carry it (its "minimal" images do not).
	// +kubebuilder:default="ghcr.io/cloudnative-pg/postgresql:16-standard-bookworm"
	// +kubebuilder:validation:MaxLength=512
	// +optional
	ImageName string `json:"imageName,omitempty"`
	// Parameters are PostgreSQL settings (the Cluster's postgresql.parameters).
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// Backup is passed to the Cluster's spec.backup as it is
	// (CloudNativePG's barmanObjectStore, volumeSnapshot, retentionPolicy, ...):
	// physical backups and point-in-time recovery by CloudNativePG. The
	// document storage is not in them; spec.backup backs up both.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Backup *runtime.RawExtension `json:"backup,omitempty"`
	// Affinity is passed to the Cluster's spec.affinity as it is
	// (CloudNativePG's enablePodAntiAffinity, topologyKey, nodeSelector, tolerations, ...).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Affinity *runtime.RawExtension `json:"affinity,omitempty"`
	// RestoreFrom fills the new instance from a backup taken by spec.backup
	// (of this or another instance, say one with a managed database) before
	// its first migration.
	// +optional
	RestoreFrom *RestoreFrom `json:"restoreFrom,omitempty"`
}

// CloudNativePGStorage sizes each instance's volume.
type CloudNativePGStorage struct {
	// +kubebuilder:default="20Gi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Gi')) >= 0",message="spec.database.cloudNativePG.storage.size must be at least 1Gi, e.g. 20Gi"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// +kubebuilder:validation:MaxLength=253
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// CloudNativePG condition reasons.
const (
	// ReasonCloudNativePGNotInstalled: the cluster does not serve postgresql.cnpg.io/v1 Cluster.
	ReasonCloudNativePGNotInstalled = "CloudNativePGNotInstalled"
)
