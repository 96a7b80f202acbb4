// Package rerank evaluates search reranking offline on the Home Depot
// product search relevance judgements (DESIGN.md, "Offline evaluation").
//
// # Data
//
// The file (CSV, plain or gzip) has the columns id, product_uid,
// product_title, search_term and relevance, the last the mean grade of at
// least three raters from 1 (irrelevant) to 3 (exact match). [ReadFile]
// streams it, validates every row and groups the rows into one [Query] per
// distinct search_term, holding that query's judged products.
//
// # Protocol
//
// The queries are split at random, whole queries at a time
// ([SplitByQuery]), into a training and a test part; a model is fitted on
// the training queries only and then reorders the judged products of each
// test query. The measure is NDCG@10 with linear gain g = relevance − 1:
//
//	DCG@k  = Σ_{p<k} g(p) / log2(p + 2)      (p the 0-based position)
//	NDCG@k = DCG@k / IDCG@k                  (IDCG: the products sorted by g)
//
// averaged over the test queries that have at least two distinct grades (a
// query whose products all share one grade scores the same under every
// order, so it is left out). Tied scores are scored by their expectation over
// a random order of the tied products (each position of a tied group gets the
// group's mean gain), so a scorer cannot gain or lose by returning ties and a
// constant scorer measures exactly the expected NDCG of random order.
//
// Because most judged products are at least somewhat relevant (the mean
// grade is about 2.4), random order already scores about 0.9: the
// differences between models are in the second decimal.
//
// # Models
//
// A model implements [Scorer]: Fit on the training queries, then ScoreTo for
// one query's products. [New] builds the built-in ones by name:
//
//   - random: a seeded hash of (query, product): a fixed random order.
//   - bm25: Okapi BM25 of the query against the product title (below).
//   - glove: the cosine between the query's and the title's text vectors
//     from the feature store's encoder (features/text: SIF-weighted sum of
//     GloVe word vectors, unit length). Nothing is trained.
//   - glove-mean: the same with the plain mean of the word vectors.
//
// [Run] is the whole protocol as `fusionrank eval rerank` runs it: read,
// split (or read a separate test file), fit, score, and return an
// evaluation.Report with NDCG@5, @10 and @20 beside the random and bm25
// baselines on the same queries.
//
// The fusion scorer plugs in by implementing [Scorer]. Models that can name
// their fitted state implement Version() string, for model_version in
// metrics.json.
//
// # BM25
//
// Fit collects the statistics of the training titles: N distinct products
// (by product_uid), df(t) of them containing the term t, and the mean title
// length avgdl, all in tokens of text.Tokenize. A title d of |d| tokens then
// scores, for a query,
//
//	Σ_{t in query} IDF(t) · tf(t,d)·(k1 + 1) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
//	IDF(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//
// with k1 = 1.2 and b = 0.75 by default ([DefaultBM25]). The IDF is always
// positive, and a term no training title has gets the largest one. A
// repeated query term counts each time. Test titles are scored with the
// training statistics, never their own. There is no stemming: "drill" and
// "drills" are different terms.
package rerank
