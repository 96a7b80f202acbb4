package evaluation

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// TrainingCurve is what a trained model reports about its training, one
// entry per epoch (index 0 is epoch 1).
type TrainingCurve struct {
	// Loss is the mean training loss of each epoch.
	Loss []float64
	// Validation is the validation metric after each epoch; NaN marks an
	// epoch that was not evaluated. It may be empty.
	Validation []float64
	// ValidationName labels the validation metric, for example "NDCG@10 (validation)".
	ValidationName string
}

// PlotMetricByK draws the metric family fam (for example "HR") against the
// cutoff k, one line per row that has at least one such metric, and saves
// it as a PNG at path. Rows from index own on are reference rows, drawn
// dashed.
func PlotMetricByK(path, fam string, rows []Row, own int) error {
	p := plot.New()
	p.Title.Text = fam + "@k"
	p.X.Label.Text = "k"
	p.Y.Label.Text = fam + "@k"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min = 0
	var ticks []plot.Tick
	seenK := map[int]bool{}
	ymax, drawn := 0.0, 0
	for i, row := range rows {
		var xys plotter.XYs
		for _, m := range row.Metrics {
			if m.Name == fam && m.K > 0 {
				xys = append(xys, plotter.XY{X: float64(m.K), Y: m.Value})
				ymax = max(ymax, m.Value)
				if !seenK[m.K] {
					seenK[m.K] = true
					ticks = append(ticks, plot.Tick{Value: float64(m.K), Label: fmt.Sprint(m.K)})
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("evaluation: plot %s: %w", row.Label, err)
		}
		c := plotutil.Color(i)
		line.Color, points.Color = c, c
		points.Shape = plotutil.Shape(i)
		if i >= own {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Width = vg.Points(1)
		} else {
			line.Width = vg.Points(2)
		}
		p.Add(line, points)
		p.Legend.Add(row.Label, line, points)
		drawn++
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Head room above the lines for the legend, which grows with the rows.
	if ymax > 0 {
		p.Y.Max = ymax * (1.15 + 0.08*float64(drawn))
	}
	p.Add(plotter.NewGrid())
	return savePNG(p, path, 18*vg.Centimeter, 13*vg.Centimeter)
}

// PlotTrainingCurve draws the loss (top panel) and, when present, the
// validation metric (bottom panel) against the epoch and saves a PNG at path.
func PlotTrainingCurve(path string, c TrainingCurve) error {
	if len(c.Loss) == 0 && len(c.Validation) == 0 {
		return fmt.Errorf("evaluation: empty training curve")
	}
	panel := func(title string, ys []float64, col color.Color) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "epoch"
		var xys plotter.XYs
		for i, y := range ys {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				xys = append(xys, plotter.XY{X: float64(i + 1), Y: y})
			}
		}
		if len(xys) > 0 {
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			line.Color, points.Color = col, col
			p.Add(line, points)
		}
		p.Add(plotter.NewGrid())
		return p, nil
	}
	var plots []*plot.Plot
	if len(c.Loss) > 0 {
		p, err := panel("training loss", c.Loss, plotutil.Color(0))
		if err != nil {
			return fmt.Errorf("evaluation: training curve: %w", err)
		}
		plots = append(plots, p)
	}
	if len(c.Validation) > 0 {
		name := c.ValidationName
		if name == "" {
			name = "validation metric"
		}
		p, err := panel(name, c.Validation, plotutil.Color(1))
		if err != nil {
			return fmt.Errorf("evaluation: training curve: %w", err)
		}
		plots = append(plots, p)
	}
	w, h := 16*vg.Centimeter, vg.Length(len(plots))*8*vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, draw.Tiles{Rows: len(plots), Cols: 1, PadY: vg.Centimeter / 2}, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	return writePNG(img, path)
}

func savePNG(p *plot.Plot, path string, w, h vg.Length) error {
	img := vgimg.New(w, h)
	p.Draw(draw.New(img))
	return writePNG(img, path)
}

func writePNG(img *vgimg.Canvas, path string) error {
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return fmt.Errorf("evaluation: %s: plots are written as .png", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("evaluation: write %s: %w", path, err)
	}
	return f.Close()
}
