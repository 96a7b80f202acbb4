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
//
// engine returns the engine's score of the item shown at position p (false: none).
func (s *Service) logSearch(source string, r fusionrank.Ranking, userID string, q *fusionrank.Query, engine func(p int, id string) (float64, bool)) {
	if s.opt.Searches == nil {
		return
	}
	shown := r.Items[:min(len(r.Items), s.opt.SearchLogDepth)]
	rec := features.Search{ID: r.RequestID, At: time.Now(), Source: source, UserID: userID, Text: q.Text,
		Vectors: q.Vectors, ModelVersion: r.ModelVersion, Impressions: make([]features.Impression, len(shown))}
	if len(q.Image) > 0 {
		h := sha256.Sum256(q.Image)
		rec.PhotoSHA256 = hex.EncodeToString(h[:])
	}
	var scores []float64 // the engine's scores, in one array the impressions point into
	if engine != nil {
		scores = make([]float64, len(shown))
	}
	for p, it := range shown {
		rec.Impressions[p].ItemID = it.ID
		if engine != nil {
			var ok bool
			if scores[p], ok = engine(p, it.ID); ok {
				rec.Impressions[p].EngineScore = &scores[p]
			}
		}
	}
	s.opt.Searches.Record(rec)
}
