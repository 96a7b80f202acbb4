package evaluation

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is a progress bar with a rate and an ETA, for long steps. A nil
// *Progress, or one made with a nil writer, does nothing, so library code can
// report progress unconditionally. Its methods are safe for concurrent use.
type Progress struct {
	bar *progressbar.ProgressBar
}

// NewProgress starts a bar of total steps labelled description, drawn on w
// (normally os.Stderr) at most ten times a second. A nil w gives a silent bar.
func NewProgress(w io.Writer, total int, description string) *Progress {
	if w == nil {
		return &Progress{}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(w, "\n") }),
	)
	return &Progress{bar: bar}
}

// Add advances the bar by n steps.
func (p *Progress) Add(n int) {
	if p == nil || p.bar == nil {
		return
	}
	_ = p.bar.Add(n)
}

// Finish fills the bar and ends its line.
func (p *Progress) Finish() {
	if p == nil || p.bar == nil {
		return
	}
	_ = p.bar.Finish()
}
