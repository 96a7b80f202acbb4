package features

import "sort"

// sortByScore orders ids by descending score, ties by id, so answers are deterministic.
func sortByScore(ids []string, score map[string]float64) {
	sort.Slice(ids, func(i, j int) bool {
		a, b := score[ids[i]], score[ids[j]]
		if a != b {
			return a > b
		}
		return ids[i] < ids[j]
	})
}
