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
	ch := make(chan int, 100)
	var mu sync.Mutex
	var got [][]int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, ch, time.Hour, 3, func(_ context.Context, vs []int) {
			mu.Lock()
			got = append(got, slices.Clone(vs))
			mu.Unlock()
		})
		close(done)
	}()
	for i := range 7 {
		ch <- i
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
	ch2 := make(chan int, 1)
	wrote := make(chan []int, 1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go Run(ctx2, ch2, 20*time.Millisecond, 100, func(_ context.Context, vs []int) { wrote <- slices.Clone(vs) })
	ch2 <- 9
	select {
	case vs := <-wrote:
		if !slices.Equal(vs, []int{9}) {
			t.Fatalf("interval batch %v", vs)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a partial batch was not written at the interval")
	}
}
