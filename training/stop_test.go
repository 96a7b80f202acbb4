package training

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestRunEpochStops: once stop is closed, runEpoch runs no further batch.
func TestRunEpochStops(t *testing.T) {
	ex := make([]example, 100)
	stop := make(chan struct{})
	batches := 0
	runEpoch(ex, 1, 1, 10, stop, func(b []example, _ *rand.Rand) (float64, int) {
		batches++
		if batches == 3 {
			close(stop)
		}
		return 1, len(b)
	})
	if batches != 3 {
		t.Errorf("%d batches run, want 3 (stop closed in the third of 10)", batches)
	}
}

// TestTrainStops: Train returns ErrStopped once Options.Stop is closed, whether
// it is closed while the sequence encoder trains or between scorer epochs, and
// trains no further epoch.
func TestTrainStops(t *testing.T) {
	d := chainData(300, 40, 6, 1)
	in, val := HoldOut(d)
	base := Options{Seed: 7, CollabDim: 16, DModel: 16, DAttn: 8, Recent: 2, Epochs: 8, Patience: 8, BatchSize: 64, Negatives: 16, LR: 5e-3}

	t.Run("scorer", func(t *testing.T) {
		stop := make(chan struct{})
		o := base
		o.Stop = stop
		var epochs []int
		o.OnEpoch = func(e int, _, _ float64) {
			epochs = append(epochs, e)
			if e == 2 {
				close(stop)
			}
		}
		res, err := Train(in, val, o)
		if !errors.Is(err, ErrStopped) || res != nil {
			t.Fatalf("Train = %v, %v; want nil, ErrStopped", res, err)
		}
		if len(epochs) != 3 || epochs[2] != 2 {
			t.Errorf("epochs reported %v, want [0 1 2]", epochs)
		}
	})
	t.Run("encoder", func(t *testing.T) {
		stop := make(chan struct{})
		o := base
		o.Stop = stop
		o.Seq = &SeqOptions{Dim: 16, Window: 3, Negatives: 16, BatchSize: 64, LR: 1e-2, Epochs: 10, Patience: 10, Members: 2}
		seqEpochs, scorerEpochs := 0, 0
		o.OnSeqEpoch = func(e int, _, _ float64) {
			seqEpochs++
			if e == 1 {
				close(stop)
			}
		}
		o.OnEpoch = func(int, float64, float64) { scorerEpochs++ }
		if _, err := Train(in, val, o); !errors.Is(err, ErrStopped) {
			t.Fatalf("Train error %v, want ErrStopped", err)
		}
		if seqEpochs != 1 || scorerEpochs != 0 {
			t.Errorf("%d encoder epochs, %d scorer epochs after the stop in encoder epoch 1; want 1, 0", seqEpochs, scorerEpochs)
		}
	})
	t.Run("not stopped", func(t *testing.T) {
		o := base
		o.Epochs = 2
		o.Stop = make(chan struct{})
		if _, err := Train(in, val, o); err != nil {
			t.Fatal(err)
		}
	})
}
