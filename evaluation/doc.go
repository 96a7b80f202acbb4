// Package evaluation holds what every offline evaluation of fusionrank
// shares: ranking metrics, the report files a run writes (metrics.json,
// report.md, PNG plots), dataset checksums, progress bars, and the Model
// interface that baselines and the fusion scorer implement. The protocols
// live in sub-packages: s3rec (Amazon Beauty, leave one out), retail (UCI
// Online Retail, temporal split) and rerank (Home Depot).
//
// # Ranks and ties
//
// A model scores every candidate; masked candidates (the user's own
// history) get -Inf. For a single target t with score s_t, TargetRank counts
//
//	above = |{i : s_i > s_t}|        tied = |{i ≠ t : s_i = s_t}|
//
// and the target's 0-based rank r depends on the TieRule:
//
//	TiesPessimistic  r = above + tied
//	TiesOptimistic   r = above
//	TiesByIndex      r = above + |{i < t : s_i = s_t}|  (lower item index first)
//	TiesExpected     r uniform on {above, …, above + tied}; metrics are averaged over it
//
// TiesExpected is the default and the honest one: a scorer cannot gain by
// returning ties (a constant scorer gets the same numbers as random order).
// The s3rec package documents which rule reproduces the published PopRec row.
//
// # Leave-one-out metrics (one target per case)
//
// With one relevant item the ideal DCG is 1, so for a case of rank r
//
//	HR@k   = [r < k]
//	NDCG@k = [r < k] / log2(r + 2)
//
// and the reported value is the mean over cases (under TiesExpected, the mean
// over the tie positions first). LeaveOneOut accumulates them.
//
// # Multi-target metrics
//
// When a case has a set T of relevant items (for example, the items a
// customer bought for the first time in the test month), the model's list
// L is the top of a sort by descending score with ties broken by lower item
// index (TopKTo), masked items excluded, and with hits_k = |L[:k] ∩ T|
//
//	HR@k     = [hits_k > 0]
//	Recall@k = hits_k / |T|
//	NDCG@k   = Σ_{p<k, L[p]∈T} 1/log2(p+2)  /  Σ_{p<min(k,|T|)} 1/log2(p+2)
//
// averaged over the cases with |T| ≥ 1. MultiTarget accumulates them.
//
// # Models and the runner
//
// Every protocol evaluates a Model: Fit(ctx, train) on the training part
// (Sequences: per-user item sequences over a dense catalogue, optional
// times, item ids, text and attributes), then ScoreTo(dst, history), which
// fills one score per catalogue item and must be safe for concurrent use.
// Runner calls ScoreTo for every case across GOMAXPROCS goroutines (each
// with its own score buffer), masks the history with -Inf, ranks
// (TargetRank, or TopKTo for multi-target cases) and accumulates in case
// order, so results do not depend on the number of workers. Versioner and
// CurveReporter are optional extras a model may implement.
//
// # Report files
//
// Report.WriteDir writes, into one directory:
//
//   - metrics.json, exactly {"dataset","sha256","model","model_version",
//     "users"|"queries":n,"metrics":{"HR@10":…,"NDCG@10":…,…},"seconds"}, where
//     sha256 is the hex SHA-256 of the dataset file as stored (FileSHA256);
//   - report.md, a Markdown table of this run's rows beside the published
//     rows (Report.Published), with the command that produced it;
//   - <family>_by_k.png, each metric family (HR, NDCG, Recall) against k, one
//     line per row, published rows dashed;
//   - training_curve.png, loss and validation metric by epoch, when the run
//     has a TrainingCurve.
//
// Long steps report progress with an ETA through Progress, on the writer the
// caller passes (the CLI passes stderr); a nil writer is silent.
package evaluation
