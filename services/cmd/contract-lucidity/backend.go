package main

import (
	"context"
	"errors"
)

// runBackend is replaced by the backend implementation.
func runBackend(ctx context.Context, args []string) error {
	return errors.New("backend: not implemented yet")
}
