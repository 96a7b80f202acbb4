// Package batch drains a queue into batched writes: the background writers of the
// search log and the answer attribution queue from the request path without blocking
// and write to Postgres in batches.
package batch

import (
	"context"
	"time"
)

// Run collects values from ch and calls write with them every interval, or at once when
// max have gathered, until ctx ends; then it writes what is still queued, with five
// seconds for that last write. write keeps no reference to the slice it gets.
func Run[T any](ctx context.Context, ch <-chan T, interval time.Duration, max int, write func(context.Context, []T)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending []T
	flush := func(ctx context.Context) {
		if len(pending) > 0 {
			write(ctx, pending)
			pending = pending[:0]
		}
	}
	for {
		select {
		case v := <-ch:
			pending = append(pending, v)
			if len(pending) >= max {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			for {
				select {
				case v := <-ch:
					pending = append(pending, v)
				default:
					fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					flush(fctx)
					cancel()
					return
				}
			}
		}
	}
}
