// Package retail evaluates recommenders on a shop's purchase log with a
// temporal split, in the format of the UCI Online Retail data set.
//
// # Data and cleaning
//
// The log is read by package dataset/onlineretail, whose documentation gives
// the cleaning rules; the service's import reads it with the same reader. On
// the UCI file that keeps 396,337 of 541,909 rows, 3,659 items and 4,334
// customers.
//
// # Split
//
// With end the time of the last purchase and D = Options.Days (default 30),
// the test period is the last D calendar days (UTC): [cutoff, end] with
// cutoff = midnight(end) − (D−1) days (2011-11-10 00:00 … 2011-12-09 12:50 on
// the UCI file). Models are fitted on every purchase strictly before the
// cutoff (Sequences with Times; one invoice is one basket) and never see the
// test period. The validation split applies the same rule to the training
// period alone: its last D days are the validation period, and validation
// models train on what precedes it.
//
// A case is a customer with at least one purchase before the cutoff and at
// least one target. The targets T_u are the distinct items the customer
// bought in the period and never before the cutoff; the history is the
// customer's purchases before the cutoff, oldest first. Customers whose
// first purchase is in the period are counted but not evaluated (every
// model would answer them with popularity). Targets that nobody bought
// before the cutoff stay in (no counting model can find them; they are
// counted in the report).
//
// # Metrics
//
// Every catalogue item is scored; the customer's past items are masked
// (they cannot be targets). L is the top 20 by descending score, ties to the
// lower item index (stock-code order), and for k = 5, 10, 20, averaged over
// cases:
//
//	HR@k     = [|L[:k] ∩ T_u| > 0]
//	Recall@k = |L[:k] ∩ T_u| / |T_u|
//	NDCG@k   = Σ_{p<k, L[p]∈T_u} 1/log2(p+2)  /  Σ_{p<min(k,|T_u|)} 1/log2(p+2)
//
// # Models
//
// pop is popularity in the training period (baseline.Pop) and copurchase is
// item-to-item co-occurrence (baseline.CoPurchase). For each, Run compares
// a small grid (PopVariants, CoPurchaseVariants: whole period or recent
// windows, buyers or purchases; baskets or histories, raw or cosine counts,
// recency decay, a mix with recent popularity) on the validation split,
// selects the best by NDCG@10, and scores only that one on the test split,
// refitted on everything before the test cutoff. Models registered in
// Config.Extra (the fusion scorer and its ablations) go through the same
// two steps with their own settings.
package retail
