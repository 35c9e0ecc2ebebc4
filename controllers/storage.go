/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// BuildStoragePVC is <name>-storage, the shared document storage. It carries
// an owner reference (and so is garbage-collected with the instance) only
// when spec.deletionPolicy.deleteData is set; by default it survives. With
// spec.storage.s3 there is none to build (nil); one that exists is kept.
func BuildStoragePVC(cl *clv1.ContractLucidity) *corev1.PersistentVolumeClaim {
	s := cl.Spec.Storage
	if s.S3 != nil {
		return nil
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: objectMeta(cl, Name(cl, "storage"), ComponentStorage, cl.Spec.DeletionPolicy.DeleteData),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{s.AccessMode},
			StorageClassName: s.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: *s.Size},
			},
		},
	}
}
