/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

// Package controllers is the Contract Lucidity operator: pure builders
// (ContractLucidity in, Kubernetes object out; one file per concern, golden
// files in testdata/) and the reconciler, a flat sequence of named steps
// (secrets, config, serviceAccounts, storage, database, redis, migrations,
// frontend, backend, worker, ingress, networkPolicies, monitoring).
//
// Writes. Every child is server-side applied with the single field manager
// "contract-lucidity-operator" and only the fields the builder sets. The
// applied object carries the annotation contractlucidity.io/spec-hash; when
// the live object (read from the cache) carries the same hash and still has
// our value in every field we set, nothing is sent, and the status is
// written only when it changed, so a steady-state reconcile sends no write
// request at all. A field another writer changed (kubectl edit of a
// NetworkPolicy, an image swapped by hand) is drift: logged and re-applied
// with forced ownership on the reconcile the edit triggers.
//
// Secrets (created once with crypto/rand, never overwritten; a missing key is
// added, an existing value never changes):
//
//	<name>-jwt         jwt-secret-key      64 random bytes, hex (JWT_SECRET_KEY)
//	<name>-encryption  encryption-key      32 random bytes, hex (ENCRYPTION_KEY)
//	<name>-admin       password            24 letters/digits (INITIAL_ADMIN_PASSWORD)
//	<name>-postgres    username, password, superuser-password (40 letters/digits; managed database only)
//	<name>-redis       password            40 letters/digits (managed Redis only)
//
// spec.auth.jwtSecretRef / encryptionKeySecretRef replace the first two;
// spec.database.external.secretRef (host, port, user, password, dbname,
// sslmode) and spec.redis.external.secretRef (url, password) replace the
// managed ones. User-provided Secrets are read uncached and never modified;
// a missing one makes the instance Degraded (reason SecretMissing, a Warning
// event, retries with backoff from 1s to 5m) and nothing is deleted.
//
// Volumes grow, never shrink (CEL refuses a smaller size or another
// StorageClass). The database StatefulSet's volumeClaimTemplate is immutable,
// so it keeps its first size and the operator grows the PVC
// data-<name>-postgres-0 itself; condition DatabaseVolumeSized reports a
// StorageClass that refuses expansion.
//
// Switching spec.database or spec.redis from managed to external deletes
// the managed StatefulSet or Deployment with its Services (and PostgreSQL's
// init ConfigMap); the database's data PVC and the generated Secrets stay.
//
// Deletion. Children carry a controller owner reference and are garbage
// collected with the instance, except data: the storage PVC <name>-storage
// and the generated Secrets have no owner reference, and PostgreSQL's
// volumeClaimTemplate PVC is retained (StatefulSet PVC retention policy
// Retain), so deleting the resource never deletes data. With
// spec.deletionPolicy.deleteData the storage PVC gets an owner reference and
// the StatefulSet retention becomes Delete; with deleteSecrets the generated
// Secrets get an owner reference. No finalizer is used.
//
// Migrations. A Job <name>-migrate-<version> runs `contract-lucidity
// migrate` once per version; backend and worker run status.migratedVersion
// and roll to a new version only after its Job succeeded (before the first
// success they are not created). The frontend follows spec.version.
//
// Caches. Informers of every child kind only hold objects labelled
// app.kubernetes.io/managed-by=contract-lucidity-operator (CacheOptions), so
// memory does not grow with the cluster's unrelated Secrets and ConfigMaps.
package controllers
