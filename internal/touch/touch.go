package touch

import "sync/atomic"

var sink atomic.Uint64

// Keep keeps x, a sum of a look-ahead loop's reads, so that the loop is not compiled
// away. It costs one atomic add.
func Keep(x uint64) { sink.Add(x) }
