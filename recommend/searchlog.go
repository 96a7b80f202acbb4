package recommend

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/features"
)

// logSearch queues the answer r to a search (its query, the items in the order shown
// and the engine's scores of the candidates given) in the search log, under the
// answer's request id, so that the clicks, carts and purchases that carry that id are
// attributed to it. The write happens in the background (features.SearchLog.Run).
func (s *Service) logSearch(source string, r fusionrank.Ranking, userID string, q *fusionrank.Query, given []fusionrank.Candidate) {
	if s.opt.Searches == nil {
		return
	}
	var engine map[string]float64
	for _, c := range given {
		if c.Score != nil {
			if engine == nil {
				engine = make(map[string]float64, len(given))
			}
			if _, dup := engine[c.ID]; !dup {
				engine[c.ID] = *c.Score
			}
		}
	}
	shown := r.Items[:min(len(r.Items), s.opt.SearchLogDepth)]
	rec := features.Search{ID: r.RequestID, At: time.Now(), Source: source, UserID: userID, Text: q.Text,
		Vectors: q.Vectors, ModelVersion: r.ModelVersion, Impressions: make([]features.Impression, len(shown))}
	if len(q.Image) > 0 {
		h := sha256.Sum256(q.Image)
		rec.PhotoSHA256 = hex.EncodeToString(h[:])
	}
	for p, it := range shown {
		rec.Impressions[p].ItemID = it.ID
		if e, ok := engine[it.ID]; ok {
			rec.Impressions[p].EngineScore = &e
		}
	}
	s.opt.Searches.Record(rec)
}
