//go:build !linux

package main

import "os/exec"

// dieWithTest is a no-op where the parent-death signal does not exist.
func dieWithTest(*exec.Cmd) {}
