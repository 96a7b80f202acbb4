//go:build !linux

package testenv

import "os/exec"

// dieWithParent does nothing outside Linux: Stop ends the servers.
func dieWithParent(cmd *exec.Cmd) {}
