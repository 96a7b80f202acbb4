package fusionrank

import "time"

// SearchRecord is a search a shop's own engine answered, reported so the service can
// learn from it (POST /v1/searches): the query, the items shown in order with the
// engine's scores, under the id the shop puts on the events that follow (their
// request_id), so clicks, carts and purchases are attributed to it.
type SearchRecord struct {
	SearchID  string      `json:"search_id"`
	Timestamp time.Time   `json:"timestamp"`
	UserID    string      `json:"user_id,omitempty"`
	Query     Query       `json:"query"`
	Items     []Candidate `json:"items"`
}

// SearchBatch is the body of POST /v1/searches.
type SearchBatch struct {
	Searches []SearchRecord `json:"searches"`
}

// SearchResult answers POST /v1/searches: every search was stored (a search whose id
// and time were already stored counts as stored once).
type SearchResult struct {
	Accepted int `json:"accepted"`
}
