//go:build !race

package recommend

const raceEnabled = false
