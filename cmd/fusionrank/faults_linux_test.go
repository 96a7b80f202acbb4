package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the child process get SIGKILL when the test process dies (a test
// timeout panics without running cleanups): no redis-server or fusionrank is left behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
