//go:build !linux

package vision

import "time"

// threadCPUTime is not measured on this OS; benchmarks then report no
// CPU-time percentiles.
func threadCPUTime() time.Duration { return 0 }
