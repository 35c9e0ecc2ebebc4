package main

import (
	"context"
	"errors"
)

// runMigrate is replaced by the backend implementation.
func runMigrate(ctx context.Context, args []string) error {
	return errors.New("migrate: not implemented yet")
}
