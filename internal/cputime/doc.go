// Package cputime reads the CPU time of the calling OS thread, for benchmarks. A
// benchmark locks its goroutine to a thread and reports the thread's CPU time beside
// wall time, because on a shared machine wall time also counts the time other
// processes held the CPU. On systems other than Linux Thread returns 0.
package cputime
