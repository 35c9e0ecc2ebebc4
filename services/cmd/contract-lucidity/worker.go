package main

import (
	"context"
	"errors"
)

// runWorker is replaced by the worker implementation.
func runWorker(ctx context.Context, args []string) error {
	return errors.New("worker: not implemented yet")
}
