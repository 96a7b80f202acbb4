package vision

// trainWork holds one shard's activations in training mode (batch
// statistics), kept for the backward pass, and the backward scratch.
type trainWork struct {
	p *params
	n int
	// x0 is the network input [3, n, Size, Size].
	x0 []float32
	// Per convolution: the im2col matrix, x̂ (the normalised convolution
	// output), y (after scale, shift and ReLU), the pooled output and the
	// pooling indices (when the layer pools), 1/√(σ²+ε), the batch mean
	// and variance.
	cols, xhat, y, pooled [][]float32
	pidx                  [][]int32
	invStd, bmean, bvar   [][]float32
	// g is the pooled feature [C, n]; e the embedding before
	// normalisation [Dim, n]; norm its column norms; out the unit
	// embeddings [Dim, n].
	g, e, norm, out []float32
	// Backward scratch.
	da, db, dcols, dg, de []float32
}

func newTrainWork(p *params, n int) *trainWork {
	cfg := p.cfg
	w := &trainWork{p: p, n: n, x0: make([]float32, 3*n*cfg.Size*cfg.Size)}
	maxAct, maxCols := 0, 0
	for _, l := range p.layers {
		m := n * l.out * l.out
		w.cols = append(w.cols, make([]float32, l.cin*9*m))
		w.xhat = append(w.xhat, make([]float32, l.cout*m))
		w.y = append(w.y, make([]float32, l.cout*m))
		var pooled []float32
		var idx []int32
		if l.pool {
			pooled = make([]float32, l.cout*m/4)
			idx = make([]int32, l.cout*m/4)
		}
		w.pooled = append(w.pooled, pooled)
		w.pidx = append(w.pidx, idx)
		w.invStd = append(w.invStd, make([]float32, l.cout))
		w.bmean = append(w.bmean, make([]float32, l.cout))
		w.bvar = append(w.bvar, make([]float32, l.cout))
		maxAct = max(maxAct, l.cout*m, l.cin*l.in*l.in*n)
		maxCols = max(maxCols, l.cin*9*m)
	}
	c := cfg.Widths[len(cfg.Widths)-1]
	w.g = make([]float32, c*n)
	w.dg = make([]float32, c*n)
	w.e = make([]float32, cfg.Dim*n)
	w.de = make([]float32, cfg.Dim*n)
	w.out = make([]float32, cfg.Dim*n)
	w.norm = make([]float32, n)
	w.da = make([]float32, maxAct)
	w.db = make([]float32, maxAct)
	w.dcols = make([]float32, maxCols)
	return w
}

// forward runs the shard's input x0 through the network with batch
// statistics and leaves the unit embeddings in w.out ([Dim, n]).
func (w *trainWork) forward() {
	p, n := w.p, w.n
	in := w.x0
	for i, l := range p.layers {
		m := n * l.out * l.out
		k := l.cin * 9
		im2col(w.cols[i], in, l.cin, n, l.in, l.in, l.stride)
		matMul(false, false, l.cout, m, k, p.w[i], k, w.cols[i], m, 0, w.xhat[i], m)
		bnReLUTrain(w.y[i], w.xhat[i], l.cout, m, p.gamma[i], p.beta[i], w.invStd[i], w.bmean[i], w.bvar[i])
		in = w.y[i]
		if l.pool {
			maxPool2(w.pooled[i], w.pidx[i], w.y[i], l.cout*n, l.out, l.out)
			in = w.pooled[i]
		}
	}
	w.head(in)
}

// head pools the last feature map in ([C, n, s, s]) and computes the
// embeddings: g, e, norm and out.
func (w *trainWork) head(in []float32) {
	p, n := w.p, w.n
	last := p.layers[len(p.layers)-1]
	c, s := last.cout, last.out
	meanPool(w.g, in, c*n, s*s)
	embed(w.e, w.out, w.norm, p, w.g, n)
}

// embed computes e = headW·g + headB ([Dim, n]) and its unit columns into
// out, with their norms in norm.
func embed(e, out, norm []float32, p *params, g []float32, n int) {
	d := p.cfg.Dim
	c := len(g) / n
	matMul(false, false, d, n, c, p.headW, c, g, n, 0, e, n)
	for r := range d {
		row := e[r*n : (r+1)*n]
		for b := range row {
			row[b] += p.headB[r]
		}
	}
	unitColumns(out, norm, e, d, n)
}

// unitColumns writes the columns of x ([rows, n]) scaled to unit L2 norm
// into out and their norms into norm (a zero column stays zero).
func unitColumns(out, norm, x []float32, rows, n int) {
	for b := range n {
		var ss float64
		for r := range rows {
			v := float64(x[r*n+b])
			ss += v * v
		}
		nb := float32(sqrt64(ss))
		norm[b] = nb
		inv := float32(0)
		if nb > 0 {
			inv = 1 / nb
		}
		for r := range rows {
			out[r*n+b] = x[r*n+b] * inv
		}
	}
}

// unitColumnsBackward turns the gradient dout at unit columns out = x/‖x‖
// into the gradient at x: dx = (dout − out·(out·dout)) / ‖x‖.
func unitColumnsBackward(dx, dout, out, norm []float32, rows, n int) {
	for b := range n {
		if norm[b] == 0 {
			for r := range rows {
				dx[r*n+b] = 0
			}
			continue
		}
		var dot float64
		for r := range rows {
			dot += float64(out[r*n+b]) * float64(dout[r*n+b])
		}
		inv, d := 1/norm[b], float32(dot)
		for r := range rows {
			dx[r*n+b] = (dout[r*n+b] - out[r*n+b]*d) * inv
		}
	}
}

// backward adds to gr the gradients of the loss whose gradient at the unit
// embeddings w.out is dout ([Dim, n]). gr has the params' shapes; only the
// convolution, batch-normalisation and head tensors are touched.
func (w *trainWork) backward(gr *params, dout []float32) {
	p, n := w.p, w.n
	d := p.cfg.Dim
	unitColumnsBackward(w.de, dout, w.out, w.norm, d, n)
	last := p.layers[len(p.layers)-1]
	c, s := last.cout, last.out
	matMul(false, true, d, c, n, w.de, n, w.g, n, 1, gr.headW, c)
	for r := range d {
		var sum float32
		for _, v := range w.de[r*n : (r+1)*n] {
			sum += v
		}
		gr.headB[r] += sum
	}
	matMul(true, false, c, n, d, p.headW, c, w.de, n, 0, w.dg, n)
	// The gradient at the last layer's output: each pooled value spread
	// evenly over its s×s plane.
	bufs := [2][]float32{w.da, w.db}
	cur := 0 // dy lives in bufs[cur]
	dy := bufs[cur][:c*n*s*s]
	inv := 1 / float32(s*s)
	for pl := range c * n {
		v := w.dg[pl] * inv
		row := dy[pl*s*s : (pl+1)*s*s]
		for i := range row {
			row[i] = v
		}
	}
	for i := len(p.layers) - 1; i >= 0; i-- {
		l := p.layers[i]
		m := n * l.out * l.out
		k := l.cin * 9
		if l.pool {
			// dy is the gradient at the pooled output; route it to the maxima.
			full := bufs[1-cur][:l.cout*m]
			maxPool2Backward(full, dy, w.pidx[i])
			dy, cur = full, 1-cur
		}
		dz := dy[:l.cout*m]
		bnReLUBackward(dz, dy, w.y[i], w.xhat[i], l.cout, m, p.gamma[i], w.invStd[i], gr.gamma[i], gr.beta[i])
		matMul(false, true, l.cout, k, m, dz, m, w.cols[i], m, 1, gr.w[i], k)
		if i == 0 {
			break
		}
		dcols := w.dcols[:k*m]
		matMul(true, false, k, m, l.cout, p.w[i], k, dz, m, 0, dcols, m)
		// The gradient at this layer's input, in the buffer dz does not use.
		dx := bufs[1-cur][:l.cin*n*l.in*l.in]
		clear(dx)
		col2im(dx, dcols, l.cin, n, l.in, l.in, l.stride)
		dy, cur = dx, 1-cur
	}
}

// inferWork is the scratch of one inference pass (folded batch
// normalisation), for n images.
type inferWork struct {
	n                int
	x0, cols, a, b   []float32
	idx              []int32
	g, e, norm, outb []float32
	rs               resampler
	img              *Planar
}

func newInferWork(cfg Config, layers []conv, n int) *inferWork {
	w := &inferWork{n: n, x0: make([]float32, 3*n*cfg.Size*cfg.Size), img: NewPlanar(cfg.Size, cfg.Size)}
	maxAct, maxCols := 0, 0
	for _, l := range layers {
		m := n * l.out * l.out
		maxAct = max(maxAct, l.cout*m)
		maxCols = max(maxCols, l.cin*9*m)
	}
	c := cfg.Widths[len(cfg.Widths)-1]
	w.cols = make([]float32, maxCols)
	w.a = make([]float32, maxAct)
	w.b = make([]float32, maxAct)
	w.idx = make([]int32, maxAct/4)
	w.g = make([]float32, c*n)
	w.e = make([]float32, cfg.Dim*n)
	w.norm = make([]float32, n)
	w.outb = make([]float32, cfg.Dim*n)
	return w
}

// folded holds the inference form of the convolutions: each batch
// normalisation folded into its convolution's weights and a bias,
// W'[o,·] = a_o·W[o,·], b'_o = β_o − a_o·μ_o with a_o = γ_o/√(σ²_o+ε).
type folded struct {
	w, b [][]float32
}

func foldBN(p *params) folded {
	var f folded
	for i, l := range p.layers {
		k := l.cin * 9
		w := make([]float32, len(p.w[i]))
		b := make([]float32, l.cout)
		for o := range l.cout {
			a := p.gamma[i][o] / float32(sqrt64(float64(p.vari[i][o])+bnEps))
			for j, v := range p.w[i][o*k : (o+1)*k] {
				w[o*k+j] = a * v
			}
			b[o] = p.beta[i][o] - a*p.mean[i][o]
		}
		f.w = append(f.w, w)
		f.b = append(f.b, b)
	}
	return f
}

// infer runs the network in inference mode on w.x0 and leaves the unit
// embeddings in w.outb ([Dim, n]).
func (w *inferWork) infer(p *params, f folded) {
	n := w.n
	in := w.x0
	cur, other := w.a, w.b
	for i, l := range p.layers {
		m := n * l.out * l.out
		k := l.cin * 9
		im2col(w.cols, in, l.cin, n, l.in, l.in, l.stride)
		out := cur[:l.cout*m]
		matMul(false, false, l.cout, m, k, f.w[i], k, w.cols, m, 0, out, m)
		reluBias(out, l.cout, m, f.b[i])
		in = out
		if l.pool {
			// The pooled map goes to the other buffer, and the next
			// layer writes over this one.
			pooled := other[:l.cout*m/4]
			maxPool2(pooled, w.idx, out, l.cout*n, l.out, l.out)
			in = pooled
		} else {
			cur, other = other, cur
		}
	}
	last := p.layers[len(p.layers)-1]
	meanPool(w.g, in, last.cout*n, last.out*last.out)
	embed(w.e, w.outb, w.norm, p, w.g, n)
}
