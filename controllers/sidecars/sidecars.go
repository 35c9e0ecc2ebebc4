/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

// Package sidecars holds the shell scripts of the operator's helper
// containers, which run in the images of the servers they help (postgres,
// redis) and are mounted from ConfigMaps: the managed PostgreSQL's
// credentials container and the managed Redis' ACL reloader. The tests run
// them against real servers.
package sidecars

import _ "embed"

// PostgresCredentials keeps the PostgreSQL roles' passwords equal to the
// mounted Secret (postgres-credentials.sh).
//
//go:embed postgres-credentials.sh
var PostgresCredentials string

// RedisACL reloads the mounted users.acl into the running Redis (redis-acl.sh).
//
//go:embed redis-acl.sh
var RedisACL string
