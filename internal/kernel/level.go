package kernel

// Level is an instruction-set level the kernels can run at.
type Level int

// The levels, from the plain Go twins up.
const (
	// Go is the pure-Go twin of every kernel: the only level on other
	// architectures and in builds with the purego tag.
	Go Level = iota
	// AVX2 is amd64 with AVX2 and FMA: 8-lane fused multiply-adds.
	AVX2
	// AVX512 is amd64 with AVX-512 F and VL and BMI2: 16-lane fused
	// multiply-adds and masked tails.
	AVX512
)

// String returns the level's name: "go", "avx2" or "avx512".
func (l Level) String() string {
	switch l {
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "go"
}

// level is the level every kernel runs at, chosen once when the program
// starts: the highest the CPU has, at most maxLevel (see the noavx512 and
// purego build tags). Only the package's tests change it, to run each
// kernel on every level the CPU has.
var level = min(detect(), maxLevel)

// Active returns the level the kernels run at.
func Active() Level { return level }

// Available returns the levels this CPU and build can run, lowest first;
// Go is always among them.
func Available() []Level {
	var ls []Level
	for l := Go; l <= min(detect(), maxLevel); l++ {
		ls = append(ls, l)
	}
	return ls
}
