// Package batch drains a queue into batched writes: the background writers of the
// search log and the answer attribution queue from the request path without blocking
// or waking the writer, and write to Postgres in batches.
package batch

import (
	"context"
	"time"
)

// Queue holds values for one background writer (Run). Put neither blocks nor wakes
// the writer unless a whole batch has gathered: the writer sleeps until its interval
// or a full batch, so a request that queues a value costs a channel send and no
// goroutine wake-up (a loaded server queues a search and an attribution record per
// answer, thousands a second).
type Queue[T any] struct {
	ch   chan T
	full chan struct{} // holds a signal while a batch of max may be waiting
	max  int
}

// NewQueue returns a queue that holds at most capacity values and writes in batches of
// at most max.
func NewQueue[T any](capacity, max int) *Queue[T] {
	return &Queue[T]{ch: make(chan T, capacity), full: make(chan struct{}, 1), max: max}
}

// Put queues v, or drops it and returns false when the queue is full. It wakes the
// writer only when max values are waiting.
func (q *Queue[T]) Put(v T) bool {
	select {
	case q.ch <- v:
	default:
		return false
	}
	if len(q.ch) >= q.max {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	return true
}

// Run calls write with the queued values every interval, and at once with each batch
// of max that gathers, until ctx ends; then it writes what is still queued, with five
// seconds for that last write. write gets at most max values at a time and keeps no
// reference to the slice.
func (q *Queue[T]) Run(ctx context.Context, interval time.Duration, write func(context.Context, []T)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	pending := make([]T, 0, min(q.max, cap(q.ch)))
	// drain writes the values queued when it starts, in batches of max (values that
	// arrive meanwhile wait for the next call: a busy queue is written once an
	// interval, not batch after small batch); with fullOnly, values short of a whole
	// batch stay queued for the interval.
	drain := func(ctx context.Context, fullOnly bool) {
		n := len(q.ch)
		if fullOnly {
			n -= n % q.max
		}
		for n > 0 {
			k := min(n, q.max)
			for range k {
				pending = append(pending, <-q.ch)
			}
			n -= k
			write(ctx, pending)
			clear(pending)
			pending = pending[:0]
		}
	}
	for {
		select {
		case <-q.full:
			drain(ctx, true)
		case <-t.C:
			drain(ctx, false)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			drain(fctx, false)
			cancel()
			return
		}
	}
}
