package recommend

import (
	"context"
	"log/slog"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/batch"
	"github.com/fusionrank/fusionrank/postgres"
)

// Attribution records which model answered each ranking request, so that events that
// carry the request id can be counted per model version. Records are written in batches
// in the background: a request never waits on this write, and at most a few seconds of
// records are lost if the process dies (they are statistics, not acknowledged writes).
type Attribution struct {
	db  *postgres.DB
	log *slog.Logger
	q   *batch.Queue[record]
}

type record struct {
	id, kind, version, user string
	n                       int
	at                      time.Time
}

// NewAttribution returns a recorder; call Run to start writing.
func NewAttribution(db *postgres.DB, log *slog.Logger) *Attribution {
	return &Attribution{db: db, log: log, q: batch.NewQueue[record](10000, 5000)}
}

// Record queues one answer. When the queue is full the record is dropped.
func (a *Attribution) Record(id, kind, version, user string, n int) {
	a.q.Put(record{id, kind, version, user, n, time.Now()})
}

// Run writes queued records every 200ms until ctx ends, then flushes what is left.
func (a *Attribution) Run(ctx context.Context) {
	a.q.Run(ctx, 200*time.Millisecond, a.write)
}

// write stores one batch of records (a replay of a request id, in the batch or
// before it, is ignored): one INSERT of the batch's columns as arrays, without a staging
// table, which Postgres would create and drop in its catalogue five times a second.
func (a *Attribution) write(ctx context.Context, recs []record) {
	ids := make([]string, len(recs))
	kinds := make([]string, len(recs))
	versions := make([]string, len(recs))
	users := make([]*string, len(recs))
	ns := make([]int32, len(recs))
	ats := make([]time.Time, len(recs))
	for i, r := range recs {
		ids[i], kinds[i], versions[i], ns[i], ats[i] = r.id, r.kind, r.version, int32(r.n), r.at
		if r.user != "" {
			users[i] = &recs[i].user
		}
	}
	_, err := a.db.Pool.Exec(ctx, `INSERT INTO rank_requests (request_id, kind, model_version, user_id, n_items, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::timestamptz[])
		ON CONFLICT DO NOTHING`, ids, kinds, versions, users, ns, ats)
	if err != nil {
		a.log.Warn("attribution: could not write records", "n", len(recs), "err", err)
	}
}

// ModelStats reads click-through and conversion per model version: impressions are the
// items of ranked answers, clicks and purchases the events that carry those answers'
// request ids.
func (a *Attribution) ModelStats(ctx context.Context) ([]fusionrank.ModelStats, error) {
	rows, err := a.db.Pool.Query(ctx, `
		SELECT r.model_version, count(*), coalesce(sum(r.n_items), 0),
			coalesce(sum(e.clicks), 0), coalesce(sum(e.purchases), 0)
		FROM rank_requests r
		LEFT JOIN (
			SELECT request_id, count(*) FILTER (WHERE type = 'click') AS clicks,
				count(*) FILTER (WHERE type = 'purchase') AS purchases
			FROM events WHERE request_id IS NOT NULL GROUP BY request_id
		) e ON e.request_id = r.request_id
		GROUP BY r.model_version ORDER BY r.model_version`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []fusionrank.ModelStats
	for rows.Next() {
		var m fusionrank.ModelStats
		if err := rows.Scan(&m.ModelVersion, &m.Requests, &m.Impressions, &m.Clicks, &m.Purchases); err != nil {
			return nil, postgres.Translate(err)
		}
		if m.Impressions > 0 {
			m.CTR = float64(m.Clicks) / float64(m.Impressions)
			m.Conversion = float64(m.Purchases) / float64(m.Impressions)
		}
		out = append(out, m)
	}
	return out, postgres.Translate(rows.Err())
}
