package fusionrank

// Query is what a shopper asked for: words, a photo (the file's bytes; base64 in
// JSON) encoded by the active image encoder, and/or vectors of caller-supplied
// modalities (an image vector, say).
type Query struct {
	Text    string               `json:"text,omitempty"`
	Image   []byte               `json:"image,omitempty"`
	Vectors map[string][]float32 `json:"vectors,omitempty"`
}

// Candidate is one product the search engine retrieved, with its own score when given.
type Candidate struct {
	ID    string   `json:"id"`
	Score *float64 `json:"score,omitempty"`
}

// Filters restrict which items an answer may hold.
type Filters struct {
	Category []string `json:"category,omitempty"`
	PriceMin *float64 `json:"price_min,omitempty"`
	PriceMax *float64 `json:"price_max,omitempty"`
}

// RerankRequest asks to reorder a search engine's candidates for a query and a shopper.
type RerankRequest struct {
	UserID  string      `json:"user_id,omitempty"`
	Query   Query       `json:"query"`
	Items   []Candidate `json:"items"`
	Count   int         `json:"count,omitempty"`
	Explain bool        `json:"explain,omitempty"`
}

// RerankBatchRequest is several rerank requests in one call (POST /v1/rerank:batch): a
// page that reranks several lists at once, or a caller that gathers its shoppers'
// searches for a moment, pays for one HTTP exchange instead of one per list. Each
// request is answered as POST /v1/rerank would answer it alone.
type RerankBatchRequest struct {
	Requests []RerankRequest `json:"requests"`
}

// RerankBatch answers a RerankBatchRequest: one result per request, in order.
type RerankBatch struct {
	Results []RerankResult `json:"results"`
}

// RerankResult is one request's answer in a batch: the status POST /v1/rerank would
// have answered it with, and the ranking (status 200) or the error.
type RerankResult struct {
	Status  int          `json:"status"`
	Ranking *Ranking     `json:"ranking,omitempty"`
	Error   *ErrorDetail `json:"error,omitempty"`
}

// ErrorDetail is what an error answer says: its code and what went wrong (the API's
// error envelope holds one).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RecommendRequest asks what a shopper should see.
type RecommendRequest struct {
	UserID string `json:"user_id"`
	// UserToken is the shop's signature vouching for UserID (package usertoken). A
	// public-scope call gets personal answers only with a valid one; keys of scope read
	// and above need none.
	UserToken string   `json:"user_token,omitempty"`
	Count     int      `json:"count,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
	Filters   *Filters `json:"filters,omitempty"`
	Query     *Query   `json:"query,omitempty"`
	Explain   bool     `json:"explain,omitempty"`
	// Anonymous asks for an answer that uses nothing known about UserID: no profile, no
	// recent items, nothing left out for having been bought. The API sets it for a
	// public-scope call without a valid user token; it is not part of the JSON.
	Anonymous bool `json:"-"`
}

// SearchRequest asks for the catalogue's best items for a query.
type SearchRequest struct {
	Query   Query    `json:"query"`
	UserID  string   `json:"user_id,omitempty"`
	Count   int      `json:"count,omitempty"`
	Filters *Filters `json:"filters,omitempty"`
	Explain bool     `json:"explain,omitempty"`
}

// SimilarRequest asks for items like one item.
type SimilarRequest struct {
	ItemID  string
	Count   int
	Explain bool
}

// Explanation says why an item ranked where it did: which of its modalities carried the
// match (weights sum to 1 over the modalities it has) and which query tokens did. How
// to read them depends on the model's fusion mode (Fusion): under attention they are the
// attention weights; under late fusion the shares of each modality's and token's
// additive contribution to the score, Contributions the signed contributions; under
// early fusion the shares of what leaving the modality (or token) out changes, and
// Contributions those changes; under off the model reads no modality (the scalar
// Features alone), and both are empty. Fallback answers (no model) carry no Fusion.
type Explanation struct {
	Fusion        string             `json:"fusion,omitempty"`
	Modalities    map[string]float64 `json:"modalities"`
	Contributions map[string]float64 `json:"contributions,omitempty"`
	Tokens        []TokenWeight      `json:"tokens,omitempty"`
	Features      map[string]float64 `json:"features,omitempty"`
}

// TokenWeight is the attention one query token received.
type TokenWeight struct {
	Token  string  `json:"token"`
	Weight float64 `json:"weight"`
}

// RankedItem is one item of an answer.
type RankedItem struct {
	ID          string       `json:"id"`
	Score       float64      `json:"score"`
	Source      string       `json:"source,omitempty"`
	ImageURL    string       `json:"image_url,omitempty"`
	Explanation *Explanation `json:"explanation,omitempty"`
}

// Ranking is the answer of rerank, recommendations, similar items and search.
type Ranking struct {
	RequestID    string       `json:"request_id"`
	ModelVersion string       `json:"model_version"`
	Items        []RankedItem `json:"items"`
	UnknownItems []string     `json:"unknown_items"`
	Personalized bool         `json:"personalized"`
	// ImageEncoder is the image encoder version whose vectors the answer used for the
	// query photo and the items' photos (one version for both, always); empty when
	// the request had no photo.
	ImageEncoder string   `json:"image_encoder,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}
