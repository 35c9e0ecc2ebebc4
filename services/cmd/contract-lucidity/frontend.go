package main

import (
	"context"
	"errors"
)

// runFrontend is replaced by the frontend implementation.
func runFrontend(ctx context.Context, args []string) error {
	return errors.New("frontend: not implemented yet")
}
