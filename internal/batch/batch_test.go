package batch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestRun: a full batch is written at once, a partial one at the interval, and what is
// queued when ctx ends is written before Run returns; nothing is lost or repeated.
func TestRun(t *testing.T) {
	q := NewQueue[int](100, 3)
	var mu sync.Mutex
	var got [][]int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		q.Run(ctx, time.Hour, func(_ context.Context, vs []int) {
			mu.Lock()
			got = append(got, slices.Clone(vs))
			mu.Unlock()
		})
		close(done)
	}()
	for i := range 7 {
		if !q.Put(i) {
			t.Fatalf("Put(%d) refused with room in the queue", i)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
	}
	cancel()
	<-done
	want := [][]int{{0, 1, 2}, {3, 4, 5}, {6}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", got, want)
	}

	// A partial batch goes out at the interval.
	q2 := NewQueue[int](10, 100)
	wrote := make(chan []int, 1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go q2.Run(ctx2, 20*time.Millisecond, func(_ context.Context, vs []int) { wrote <- slices.Clone(vs) })
	q2.Put(9)
	select {
	case vs := <-wrote:
		if !slices.Equal(vs, []int{9}) {
			t.Fatalf("interval batch %v", vs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a partial batch was not written at the interval")
	}
}

// TestPutFullQueue: a full queue refuses a value at once instead of blocking, and
// takes values again once the writer has drained it.
func TestPutFullQueue(t *testing.T) {
	q := NewQueue[int](2, 10)
	if !q.Put(1) || !q.Put(2) {
		t.Fatal("Put refused with room in the queue")
	}
	if q.Put(3) {
		t.Fatal("Put took a value into a full queue")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var got []int
	go func() {
		q.Run(ctx, time.Hour, func(_ context.Context, vs []int) { got = append(got, vs...) })
		close(done)
	}()
	cancel()
	<-done
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("written %v, want [1 2]", got)
	}
	if !q.Put(4) {
		t.Fatal("Put refused after the queue was drained")
	}
}

// TestBusyQueueWrittenOncePerInterval: values that keep arriving while a batch is
// written wait for the next interval; a busy queue is not written in a stream of
// small batches (each is a transaction in Postgres).
func TestBusyQueueWrittenOncePerInterval(t *testing.T) {
	const interval = 20 * time.Millisecond
	q := NewQueue[int](100000, 100000)
	var mu sync.Mutex
	writes, values := 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		q.Run(ctx, interval, func(_ context.Context, vs []int) {
			time.Sleep(2 * time.Millisecond) // a write takes a while
			mu.Lock()
			writes++
			values += len(vs)
			mu.Unlock()
		})
		close(done)
	}()
	start := time.Now()
	sent := 0
	for time.Since(start) < 200*time.Millisecond {
		q.Put(sent)
		sent++
		time.Sleep(50 * time.Microsecond)
	}
	cancel()
	<-done
	elapsed := time.Since(start)
	// One write per tick at most, and the last one when ctx ends.
	if bound := int(elapsed/interval) + 2; writes > bound {
		t.Errorf("%d writes in %v at an interval of %v; want at most %d", writes, elapsed, interval, bound)
	}
	if values != sent {
		t.Errorf("%d values written of %d queued", values, sent)
	}
}
