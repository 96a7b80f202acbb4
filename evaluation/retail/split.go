package retail

import (
	"time"

	"github.com/fusionrank/fusionrank/dataset/onlineretail"
	"github.com/fusionrank/fusionrank/evaluation"
)

// Cutoff returns the start of the last days calendar days (UTC) ending on
// the day of the last event at or before end: midnight of end's day minus
// days−1 days. Events at or after the cutoff form the evaluation period.
func Cutoff(end int64, days int) int64 {
	day := time.Unix(0, end).UTC().Truncate(24 * time.Hour)
	return day.AddDate(0, 0, -(days - 1)).UnixNano()
}

// Split is a temporal split of a log at a cutoff.
type Split struct {
	// Cutoff and End bound the evaluation period [Cutoff, End].
	Cutoff, End int64
	// Train holds every customer's events before Cutoff, in time order.
	Train *evaluation.Sequences
	// Cases holds, for each customer with at least one training event and at
	// least one target, the training history and the targets: the distinct
	// items bought in [Cutoff, End] that the customer had not bought before
	// Cutoff. CaseCustomers parallels Cases.
	Cases         []evaluation.MultiCase
	CaseCustomers []int32
	// ColdCustomers counts customers whose first purchase is in the
	// evaluation period (not evaluated); ColdTargets counts targets that
	// nobody bought before Cutoff.
	ColdCustomers, ColdTargets, Targets int
}

// SplitAt splits the events of l with Time ≤ end at cutoff.
func SplitAt(l *onlineretail.Log, cutoff, end int64) *Split {
	nc := len(l.CustomerIDs)
	s := &Split{Cutoff: cutoff, End: end}
	train := &evaluation.Sequences{
		NumItems: l.NumItems(), Users: make([][]int32, nc), Times: make([][]int64, nc),
		ItemIDs: l.ItemIDs, ItemText: l.ItemText,
	}
	seenItem := make([]bool, l.NumItems())
	for _, e := range l.Events {
		if e.Time < cutoff {
			train.Users[e.Customer] = append(train.Users[e.Customer], e.Item)
			train.Times[e.Customer] = append(train.Times[e.Customer], e.Time)
			seenItem[e.Item] = true
		}
	}
	targets := make([][]int32, nc)
	bought := map[[2]int32]bool{}
	for c, seq := range train.Users {
		for _, it := range seq {
			bought[[2]int32{int32(c), it}] = true
		}
	}
	for _, e := range l.Events {
		if e.Time < cutoff || e.Time > end {
			continue
		}
		key := [2]int32{e.Customer, e.Item}
		if bought[key] {
			continue
		}
		bought[key] = true
		targets[e.Customer] = append(targets[e.Customer], e.Item)
	}
	for c := range nc {
		if len(targets[c]) == 0 {
			continue
		}
		if len(train.Users[c]) == 0 {
			s.ColdCustomers++
			continue
		}
		s.Cases = append(s.Cases, evaluation.MultiCase{History: train.Users[c], Targets: targets[c]})
		s.CaseCustomers = append(s.CaseCustomers, int32(c))
		s.Targets += len(targets[c])
		for _, it := range targets[c] {
			if !seenItem[it] {
				s.ColdTargets++
			}
		}
	}
	s.Train = train
	return s
}

// TestSplit is the test split of l: the last days calendar days are the
// evaluation period, everything before trains.
func TestSplit(l *onlineretail.Log, days int) *Split {
	end := l.End()
	return SplitAt(l, Cutoff(end, days), end)
}

// ValidationSplit applies the same rule to the training period of l's test
// split: its last days calendar days are evaluated, what precedes trains.
// The test period is never seen.
func ValidationSplit(l *onlineretail.Log, days int) *Split {
	testCut := Cutoff(l.End(), days)
	end := testCut - 1
	return SplitAt(l, Cutoff(end, days), end)
}
