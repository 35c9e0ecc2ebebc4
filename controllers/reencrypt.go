/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// ReencryptJobName is the Job of the encryption key rotation that started at started.
func ReencryptJobName(cl *clv1.ContractLucidity, started time.Time) string {
	return Name(cl, "reencrypt-"+versionSlug(started.UTC().Format(time.RFC3339)))
}

// BuildReencryptJob runs `contract-lucidity reencrypt` of version once:
// it rewrites every stored AI provider key with ENCRYPTION_KEY (the new
// key), opening them with it or ENCRYPTION_PREVIOUS_KEYS (the old one). It
// is a database maintenance Job like the migration: the same identity and
// network access (component label migrate: PostgreSQL only).
func BuildReencryptJob(cl *clv1.ContractLucidity, version string, started time.Time) *batchv1.Job {
	c := appContainer(cl, ComponentMigrate, version, componentResources(ComponentMigrate))
	c.Name = "reencrypt"
	c.Args = []string{"reencrypt"}
	c.Env = append(c.Env,
		secretEnv("ENCRYPTION_KEY", encryptionKey(cl), false),
		secretEnv("ENCRYPTION_PREVIOUS_KEYS", SecretKey{Name(cl, "encryption"), SecretKeyEncryptionPrevious}, true))
	return databaseJob(cl, ReencryptJobName(cl, started), version, c, 4)
}
