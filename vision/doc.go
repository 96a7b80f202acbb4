// Package vision turns product photos into vectors: a fixed descriptor that
// needs no training (the day-one default), and a small convolutional
// encoder trained here, in Go, from a shop's own photos, with a text tower
// so that words and photos land in one space.
//
// It is pure computation: no I/O except reading and writing encoder files
// on an io.Reader or io.Writer, no context, no logging. Decoding a file into
// an image.Image is the caller's job (package photoset reads the Grocery
// Store layout; the service decodes uploads).
//
// # Preparing an image
//
// Resize scales the whole image to an S×S square (the aspect ratio changes
// when the image is not square; no part is cropped) with a box filter:
// output pixel (x, y) is the mean of the source pixels it covers, each
// weighted by the area of the overlap, computed separably (rows, then
// columns). Colours are read as sRGB in [0, 1]; transparent pixels are
// composited over white. ToLab converts sRGB to CIELAB under D65:
//
//	c_lin = c/12.92                      if c ≤ 0.04045
//	      = ((c + 0.055)/1.055)^2.4      otherwise          (c = R, G, B)
//	[X Y Z] = M · [R_lin G_lin B_lin]    (the sRGB matrix, D65)
//	f(t) = t^(1/3) if t > (6/29)³, else t/(3·(6/29)²) + 4/29
//	L* = 116 f(Y/Yn) − 16,  a* = 500 (f(X/Xn) − f(Y/Yn)),  b* = 200 (f(Y/Yn) − f(Z/Zn))
//
// with (Xn, Yn, Zn) = (0.95047, 1, 1.08883). CIELAB is perceptual: equal
// distances are roughly equal visible differences, and lightness (L*) is
// apart from hue and saturation (a*, b*), so a shadow on a pepper changes
// L* more than its redness.
//
// # The fixed descriptor (DescriptorVersion "descriptor-v1")
//
// The image is resized to 64×64 and converted to CIELAB. Three parts:
//
// Colour layout: the 4×4 grid of 16×16 cells, for each cell the mean of
// ((L*−50)/50, a*/50, b*/50): 48 numbers saying where which colour is.
//
// Colour histograms: soft histograms over 3 L* × 5 a* × 5 b* = 75 bins
// (bin centres evenly spaced over L* ∈ [0, 100] and a*, b* ∈ [−60, 60];
// values beyond the outer centres go to the outer bins), each pixel split
// trilinearly between its 8 nearest bins, for the whole image and for its
// four quadrants (5 × 75 = 375 numbers). Each histogram h is normalised to
// sum 1 and mapped to √h (the Hellinger map: the dot product of two such
// vectors is the Bhattacharyya coefficient of the distributions).
//
// Edge orientations: the L* gradient by central differences (g_x, g_y), its
// magnitude m = √(g_x² + g_y²) and unsigned orientation θ ∈ [0, π), binned
// into 8 orientation bins (split linearly between the two nearest) weighted
// by m, for each cell of a 4×4 grid and for the whole image (17 × 8 = 136
// numbers); the part is divided by 2·Σm + 64² (the floor keeps flat images
// near zero) and square-rooted.
//
// Each part is scaled to unit length and then by √w_p, with the shares
// w = (layout 0.2, histogram 0.5, edges 0.3), so the descriptor has unit
// length and the cosine of two descriptors is Σ_p w_p cos(part_p, part_p').
// DescriptorDim = 48 + 375 + 136 = 559.
//
// # The convolutional encoder (Config.Kind "cnn")
//
// The photo is resized to Size × Size (default 64), converted to CIELAB and
// scaled to (L*/50 − 1, a*/50, b*/50). The network has len(Widths) stages
// of Depth 3×3 convolutions (padding 1), each followed by batch
// normalisation and ReLU; the first convolution has stride 2, every stage
// but the last ends with a 2×2 max-pool, the last with a global average
// pool. A linear head maps the pooled features to Dim numbers, scaled to
// unit length: the photo's embedding e. The default (Widths 32, 64, 128;
// Depth 2; Dim 128) costs about 38.5 million multiply-adds per photo.
//
// Convolutions run as im2col and one matrix product per layer over a
// batch: activations are stored channel-major [C, N, H, W], the patches of a
// layer form a [C_in·9, N·H·W] matrix, and the output is W [C_out, C_in·9]
// times it. Every product goes through one function (matMul, gonum's
// blas32), so a faster kernel replaces it in one place. For inference the
// batch normalisation is folded into the convolution: W' = a·W and
// b' = β − a·μ per output channel, a = γ/√(σ² + ε), with the running μ, σ².
//
// # The features encoder (Config.Kind "features", the default of train-images)
//
// On a few thousand photos trained from scratch in minutes on two cores,
// fixed features with a learned network on top learn more than the
// convolutions do. The photo is resized to Size × Size (default 64) and
// converted to CIELAB; FeatureDim(Size) numbers (3,236 at 64) are computed:
//
// Joint colour histograms: soft (trilinear) histograms over 4 L* × 8 a* × 8 b*
// bins (centres evenly spaced over L* ∈ [0, 100], a* ∈ [−50, 60],
// b* ∈ [−40, 70]; values beyond the outer centres go to the outer bins),
// for the whole image and its four quadrants, each normalised to sum 1 and
// square-rooted (5 × 256 numbers).
//
// Oriented colour gradients (HOG): at each pixel the central-difference
// gradient of whichever of L*, a*, b* has the largest magnitude m (so a
// label's edge between two colours of equal lightness still counts); its
// unsigned orientation voted into 9 bins (linear between the two nearest),
// weighted by m, into the 8 × 8-pixel cells (bilinear between the four
// nearest cell centres); every 2 × 2 block of cells, overlapping by one
// cell, normalised with L2-Hys (unit length, clipped at 0.2, unit length
// again): (Size/8 − 1)² × 36 numbers.
//
// Colour layout: the mean of ((L*−50)/50, a*/50, b*/50) over each cell of
// an 8 × 8 grid (192 numbers).
//
// The features x are standardised with the mean μ and deviation σ (+10⁻³)
// of the first epoch's training views (stored in the file), and
//
//	h = relu(W₁ (x − μ)/σ + b₁)        (Hidden units, default 256)
//	e = W₂ h + b₂,  scaled to unit length
//
// A photo's embedding is the mean of e for the photo and for its mirror
// image, scaled to unit length.
//
// Training uses the loss below with dropout on h (default 0.5) and fresh
// augmented views of every photo each epoch.
//
// The text tower maps a text's pooled word vector x (the feature store's
// SIF-weighted GloVe mean, unit length) to t = W₂ relu(W₁ x + b₁) + b₂,
// scaled to unit length.
//
// # Training
//
// Each product c has a learned vector p_c. Every image i of a batch (a
// shopper photo, or a product's web-shop photo) and every text j (a
// product's name or a sentence of its description) is scored against all
// K products by cosine with a scale s (default 16):
//
//	z_ic = s · e_i·p̂_c      L_img = −(1/B) Σ_i log softmax_c(z_i)[y_i]
//	z_jc = s · t_j·p̂_c      L_txt = −(1/T) Σ_j log softmax_c(z_j)[y_j]
//	L = L_img + λ_txt · L_txt                        (λ_txt default 1)
//
// p̂ the unit product vectors. The product vectors are shared by all three
// kinds of input, so a shopper photo, the web-shop photo and the texts of
// one product are pulled to the same point, and a photo and a text are
// compared directly by e·t: words find photos through the product vectors
// they were both trained towards (a contrastive loss with learned class
// anchors, as in NormFace and proxy-NCA).
//
// Each image is shown as a random view (Augment): an affine crop (side
// uniform in [MinScale, 1] of the photo, aspect log-uniform within
// MaxAspect, rotation within ±Rotate degrees, mirrored half the time)
// resampled bilinearly, then brightness, contrast and saturation jitter.
// Optimisation is AdamW (β = 0.9, 0.999; weight decay on the weight
// matrices only) with a linear warm-up over the first epoch and a cosine
// decay to zero.
//
// # Determinism
//
// Everything random (initial weights, the order of the photos, the web-shop
// photos and texts of each step, every view) is drawn from one generator
// seeded by TrainOptions.Seed, on one goroutine, in a fixed order. A batch
// is split into Shards fixed parts; each part is forwarded (with its own
// batch-normalisation statistics) and differentiated on its own, on any of
// Workers goroutines, and the parts' gradients are summed in shard order.
// The matrix products run on the calling goroutine. So the same data,
// options and seed give bit-identical weights whatever the number of
// goroutines, and Encoder.Version (a hash of the weights) says so.
//
// # Files
//
// Encoder.WriteTo writes the safetensors format of the project's model
// files (ranking.WriteTensors): every tensor as little-endian F32 and the
// Config as JSON in the metadata (and Encoder.TrainedOn, the digest of the
// training photos, when known); ReadEncoder checks it and restores an
// encoder that encodes bit-identically.
package vision
