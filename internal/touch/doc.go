// Package touch keeps the reads of look-ahead loops.
//
// Serving reads, for each of a request's candidates, rows of arrays far larger than
// the caches (the catalogue's id index and metadata, the models' key/value rows), and
// each such read is a cache miss. In a loop that does other work between them, the
// processor waits for each miss in turn; in a loop that does nothing but read them, it
// has many in flight at once. So the hot paths first read what they will need in a
// loop of its own (a look-ahead loop), then do the work, which then finds the lines in
// the cache. A look-ahead loop's values are not otherwise used, and a loop whose reads
// go nowhere is compiled away: Keep takes a sum of them. (The HNSW search of
// recommend/retrieval does the same per visited node, into its workspace's own sink:
// an atomic add there would cost more than the loop.)
package touch
