/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

// Package rotationtest holds end-to-end tests of secret rotation against
// real PostgreSQL and Redis servers, without Kubernetes: the operator's
// sidecar scripts (controllers/sidecars) run with sh against the servers,
// and the rotation sequences the operator drives run while backends serve
// authenticated requests, which must all succeed.
package rotationtest
