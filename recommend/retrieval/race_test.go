//go:build race

package retrieval

// raceEnabled shrinks the heavy tests under the race detector, which slows
// the graph build about tenfold.
const raceEnabled = true
