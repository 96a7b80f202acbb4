//go:build !linux

package ranking

import "time"

// threadCPUTime is not measured on this OS; benchmarks then report no
// cpu-ns/candidate.
func threadCPUTime() time.Duration { return 0 }
