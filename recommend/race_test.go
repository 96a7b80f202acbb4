//go:build race

package recommend

// raceEnabled is true under the race detector, which slows graph builds about
// tenfold; tests that only build large graphs run in the plain run of make test.
const raceEnabled = true
