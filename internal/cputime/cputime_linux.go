//go:build linux

package cputime

import (
	"syscall"
	"time"
	"unsafe"
)

// Thread returns the CPU time consumed by the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID), 0 when the clock cannot be read.
func Thread() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
