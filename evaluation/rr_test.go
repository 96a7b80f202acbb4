package evaluation

import (
	"math"
	"testing"
)

func TestReciprocalRank(t *testing.T) {
	tests := []struct {
		name string
		r    Rank
		rule TieRule
		want float64
	}{
		{"first", Rank{}, TiesExpected, 1},
		{"third", Rank{Above: 2}, TiesPessimistic, 1.0 / 3},
		{"tied pessimistic", Rank{Above: 1, Tied: 2}, TiesPessimistic, 1.0 / 4},
		{"tied optimistic", Rank{Above: 1, Tied: 2}, TiesOptimistic, 1.0 / 2},
		{"tied by index", Rank{Above: 1, Tied: 2, TiedBefore: 1}, TiesByIndex, 1.0 / 3},
		{"tied expected", Rank{Above: 1, Tied: 2}, TiesExpected, (1.0/2 + 1.0/3 + 1.0/4) / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReciprocalRank(tt.r, tt.rule); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("ReciprocalRank(%+v, %v) = %v, want %v", tt.r, tt.rule, got, tt.want)
			}
		})
	}
}
