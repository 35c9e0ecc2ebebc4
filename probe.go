/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// probePause is the wait between tries (shorter in tests).
var probePause = 2 * time.Second

// probe implements `manager probe URL [TEXT]`: exit 0 when URL answers 200
// and, with TEXT, its body contains TEXT. The Helm chart's test pod runs it
// against the operator's metrics Service.
func probe(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || len(args) > 2 {
		fmt.Fprintln(stderr, "usage: manager probe URL [TEXT]")
		return 2
	}
	c := &http.Client{Timeout: 10 * time.Second}
	var last error
	// The Service may need a moment after the rollout; a few tries, then fail.
	for i := 0; i < 5; i++ {
		if i > 0 {
			time.Sleep(probePause)
		}
		last = probeOnce(c, args)
		if last == nil {
			fmt.Fprintf(stdout, "ok: %s\n", args[0])
			return 0
		}
	}
	fmt.Fprintf(stderr, "probe %s: %v\n", args[0], last)
	return 1
}

func probeOnce(c *http.Client, args []string) error {
	resp, err := c.Get(args[0])
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if len(args) == 2 && !strings.Contains(string(body), args[1]) {
		return fmt.Errorf("the answer does not contain %q", args[1])
	}
	return nil
}
