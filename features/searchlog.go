package features

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/batch"
	"github.com/fusionrank/fusionrank/postgres"
)

// Search sources: where a logged search came from.
const (
	SearchFromRerank = "rerank" // answered by POST /v1/rerank
	SearchFromSearch = "search" // answered by POST /v1/search
	SearchFromEngine = "engine" // reported by a shop's own engine (POST /v1/searches)
	SearchFromImport = "import" // a relevance judgement set (fusionrank import searches)
)

// Search is one logged search: the query, and what was shown, in order.
type Search struct {
	// ID is the answer's request_id (events that carry it are attributed to the
	// search) or the id a shop's engine gave.
	ID string
	// At is when the search was answered.
	At time.Time
	// Source is one of the SearchFrom constants.
	Source string
	// UserID is the shopper, "" when anonymous.
	UserID string
	// Text is the query text, "" when none.
	Text string
	// Vectors are the caller's query vectors by modality (nil: none).
	Vectors map[string][]float32
	// PhotoSHA256 names the query photo ("" without one); the bytes are not kept.
	PhotoSHA256 string
	// ModelVersion is the model that ordered the answer ("" for an engine's search).
	ModelVersion string
	// Judged marks a judgement set: every impression was examined and has a Grade.
	Judged bool
	// Holdout keeps the search out of training (for evaluation).
	Holdout bool
	// Impressions are the items shown, position 0 first.
	Impressions []Impression
}

// Impression is one shown item of a search.
type Impression struct {
	ItemID string
	// EngineScore is the search engine's score, nil when none was given.
	EngineScore *float64
	// Grade is the judged relevance (judged searches), nil otherwise.
	Grade *float64
}

// SearchLog writes searches to Postgres. Record queues searches the service answered
// and a background Run writes them in batches, so a request never waits on the log
// (at most a few seconds of records are lost if the process dies); Write stores a
// batch synchronously (the engine endpoint and imports acknowledge only what is
// stored).
type SearchLog struct {
	// MaxFutureSkew is how far in the future a reported search's timestamp may be;
	// 0: no limit.
	MaxFutureSkew time.Duration

	db  *postgres.DB
	log *slog.Logger
	q   *batch.Queue[Search]
	// days holds the day partitions known to exist ("20061225").
	mu   sync.Mutex
	days map[string]bool
}

// NewSearchLog returns a search log over db; call Run to write what Record queues.
func NewSearchLog(db *postgres.DB, log *slog.Logger) *SearchLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SearchLog{db: db, log: log, q: batch.NewQueue[Search](10000, 2000), days: map[string]bool{}}
}

// Record queues one search. When the queue is full the search is dropped.
func (l *SearchLog) Record(s Search) {
	l.q.Put(s)
}

// Run writes queued searches every 200ms until ctx ends, then flushes what is left.
func (l *SearchLog) Run(ctx context.Context) {
	l.q.Run(ctx, 200*time.Millisecond, func(ctx context.Context, ss []Search) {
		if err := l.writeAnswered(ctx, ss); err != nil {
			l.log.Warn("search log: could not write searches", "n", len(ss), "err", err)
		}
	})
}

// dayOf returns the UTC day of t as the partition suffix and its bounds.
func dayOf(t time.Time) (string, time.Time, time.Time) {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.Format("20060102"), d, d.Add(24 * time.Hour)
}

// ensureDays creates the day partitions of both tables that ss need.
func (l *SearchLog) ensureDays(ctx context.Context, ss []Search) error {
	need := map[string]time.Time{}
	l.mu.Lock()
	for _, s := range ss {
		name, from, _ := dayOf(s.At)
		if !l.days[name] {
			need[name] = from
		}
	}
	l.mu.Unlock()
	for name, from := range need {
		to := from.Add(24 * time.Hour)
		err := l.db.Transact(ctx, func(tx pgx.Tx) error {
			// Concurrent writers (two replicas) serialise on the day's creation.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('searches_p' || $1))`, name); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS searches_p%s PARTITION OF searches FOR VALUES FROM ('%s') TO ('%s')`,
				name, from.Format(time.RFC3339), to.Format(time.RFC3339)))
			return err
		})
		if err != nil {
			return postgres.Translate(err)
		}
		l.mu.Lock()
		l.days[name] = true
		l.mu.Unlock()
	}
	return nil
}

// searchColumns are the columns searchRows gives, in order.
var searchColumns = []string{"search_id", "created_at", "source", "user_id", "query_text", "query_vectors", "photo_sha256",
	"model_version", "judged", "holdout", "item_ids", "engine_scores", "grades"}

// searchRows gives searches to COPY as rows of searchColumns. pgx encodes a row before
// it asks for the next, so one row of values and its arrays serve every search.
type searchRows struct {
	ss     []Search
	i      int
	row    []any
	ids    []string
	scores []*float64
	grades []*float64
	err    error
}

func (r *searchRows) Next() bool {
	r.i++
	return r.i <= len(r.ss)
}

func (r *searchRows) Values() ([]any, error) {
	s := &r.ss[r.i-1]
	vecs := "{}"
	if len(s.Vectors) > 0 {
		b, err := json.Marshal(s.Vectors)
		if err != nil {
			r.err = err
			return nil, err
		}
		vecs = string(b)
	}
	r.ids, r.scores, r.grades = r.ids[:0], r.scores[:0], r.grades[:0]
	for _, im := range s.Impressions {
		r.ids, r.scores, r.grades = append(r.ids, im.ItemID), append(r.scores, im.EngineScore), append(r.grades, im.Grade)
	}
	r.row = append(r.row[:0], s.ID, s.At.UTC(), s.Source, s.UserID, s.Text, vecs, s.PhotoSHA256, s.ModelVersion,
		s.Judged, s.Holdout, r.ids, r.scores, r.grades)
	return r.row, nil
}

func (r *searchRows) Err() error { return r.err }

// Write stores searches with their impressions in one transaction. A search whose id
// and time are already stored is left as it is (a retried report).
func (l *SearchLog) Write(ctx context.Context, ss []Search) error {
	if len(ss) == 0 {
		return nil
	}
	if err := l.ensureDays(ctx, ss); err != nil {
		return err
	}
	err := l.db.Transact(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE staged_searches (LIKE searches) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_searches"}, searchColumns, &searchRows{ss: ss}); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO searches SELECT * FROM staged_searches ON CONFLICT DO NOTHING`)
		return err
	})
	return postgres.Translate(err)
}

// writeAnswered stores searches the service answered (Record). Their ids are its
// request ids, unique by their 64 random bits, so they are copied straight into
// searches: one statement, without the staging table that Write needs to leave a
// stored search alone (a table Postgres would create and drop in its catalogue five
// times a second, and every row written twice). Should a search be there all the same
// (the copy is then refused as a whole), the batch goes through Write.
func (l *SearchLog) writeAnswered(ctx context.Context, ss []Search) error {
	if len(ss) == 0 {
		return nil
	}
	if err := l.ensureDays(ctx, ss); err != nil {
		return err
	}
	_, err := l.db.Pool.CopyFrom(ctx, pgx.Identifier{"searches"}, searchColumns, &searchRows{ss: ss})
	if err = postgres.Translate(err); fusionrank.ErrorCode(err) == fusionrank.Conflict {
		return l.Write(ctx, ss)
	}
	return err
}

// Prune drops the day partitions of searches that ended before cutoff and returns
// their days ("20061225"). Retention drops whole days: a search is kept until its
// whole day is older than the cutoff.
func (l *SearchLog) Prune(ctx context.Context, cutoff time.Time) ([]string, error) {
	rows, err := l.db.Pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'searches' ORDER BY c.relname`)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	var days []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, postgres.Translate(err)
		}
		day, ok := strings.CutPrefix(name, "searches_p")
		if !ok {
			continue
		}
		from, err := time.Parse("20060102", day)
		if err != nil {
			continue
		}
		if !from.Add(24 * time.Hour).After(cutoff) {
			days = append(days, day)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, postgres.Translate(err)
	}
	for _, day := range days {
		err := l.db.Transact(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS searches_p%s`, day))
			return err
		})
		if err != nil {
			return nil, postgres.Translate(err)
		}
		l.mu.Lock()
		delete(l.days, day)
		l.mu.Unlock()
	}
	return days, nil
}

// LoggedSearch is a search as training sees it: the search and, per impression, its
// outcome.
type LoggedSearch struct {
	Search
	// Outcomes[p] is what followed impression p: its grade in a judged search; in a
	// live one the strongest event that carries the search's id for that item
	// (0 none or a view, 1 click, 2 add to cart, 3 purchase).
	Outcomes []float64
}

// ExportSearches calls fn for every logged search in time order, with its impressions
// in position order and their outcomes (the events attributed to the search through
// its request id). holdout selects the held-out searches (true) or the others.
func ExportSearches(ctx context.Context, db *postgres.DB, holdout bool, fn func(LoggedSearch) error) (int, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT s.search_id, s.created_at, s.source, s.user_id, s.query_text, s.query_vectors, s.photo_sha256,
			s.model_version, s.judged, s.holdout, i.item_id, i.engine_score, i.grade,
			CASE WHEN s.judged THEN coalesce(i.grade, 0) ELSE coalesce((
				SELECT max(CASE e.type WHEN 'click' THEN 1 WHEN 'add_to_cart' THEN 2 WHEN 'purchase' THEN 3 ELSE 0 END)
				FROM events e WHERE e.request_id = s.search_id AND e.item_id = i.item_id), 0) END
		FROM searches s
		CROSS JOIN LATERAL unnest(s.item_ids, s.engine_scores, s.grades) WITH ORDINALITY AS i(item_id, engine_score, grade, position)
		WHERE s.holdout = $1
		ORDER BY s.created_at, s.search_id, i.position`, holdout)
	if err != nil {
		return 0, postgres.Translate(err)
	}
	defer rows.Close()
	var cur *LoggedSearch
	n := 0
	emit := func() error {
		if cur == nil {
			return nil
		}
		n++
		return fn(*cur)
	}
	for rows.Next() {
		var s Search
		var vecs []byte
		var im Impression
		var outcome float64
		if err := rows.Scan(&s.ID, &s.At, &s.Source, &s.UserID, &s.Text, &vecs, &s.PhotoSHA256, &s.ModelVersion,
			&s.Judged, &s.Holdout, &im.ItemID, &im.EngineScore, &im.Grade, &outcome); err != nil {
			return n, postgres.Translate(err)
		}
		if cur == nil || cur.ID != s.ID || !cur.At.Equal(s.At) {
			if err := emit(); err != nil {
				return n, err
			}
			if len(vecs) > 2 {
				if err := json.Unmarshal(vecs, &s.Vectors); err != nil {
					return n, fmt.Errorf("features: search %s: query_vectors: %w", s.ID, err)
				}
			}
			cur = &LoggedSearch{Search: s}
		}
		cur.Impressions = append(cur.Impressions, im)
		cur.Outcomes = append(cur.Outcomes, outcome)
	}
	if err := rows.Err(); err != nil {
		return n, postgres.Translate(err)
	}
	return n, emit()
}

// Delete removes the searches with the given ids (all their times) and their
// impressions: a re-imported judgement set replaces the earlier import.
func (l *SearchLog) Delete(ctx context.Context, ids []string) error {
	_, err := l.db.Pool.Exec(ctx, `DELETE FROM searches WHERE search_id = ANY($1)`, ids)
	return postgres.Translate(err)
}

// Limits of a reported search (POST /v1/searches).
const (
	MaxSearchesPerCall = 1000
	MaxSearchItems     = 1000
	MaxSearchText      = 1000
)

// RecordSearches validates and stores searches reported by a shop's engine. The
// whole batch is checked first: an invalid search fails the call with a 400 naming
// its field, and nothing is stored; a 2xx means every search is in Postgres.
func (l *SearchLog) RecordSearches(ctx context.Context, rs []fusionrank.SearchRecord) (fusionrank.SearchResult, error) {
	if len(rs) == 0 {
		return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "searches: required, at least one")
	}
	if len(rs) > MaxSearchesPerCall {
		return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.TooLarge, "searches: %d searches is over the limit of %d per call", len(rs), MaxSearchesPerCall)
	}
	now := time.Now()
	ss := make([]Search, len(rs))
	for i, r := range rs {
		f := fmt.Sprintf("searches[%d]", i)
		if err := fusionrank.ValidateID(f+".search_id", r.SearchID); err != nil {
			return fusionrank.SearchResult{}, err
		}
		if r.Timestamp.IsZero() {
			return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.timestamp: required (RFC 3339)", f)
		}
		if l.MaxFutureSkew > 0 && r.Timestamp.After(now.Add(l.MaxFutureSkew)) {
			return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.timestamp: %s is in the future", f, r.Timestamp.Format(time.RFC3339))
		}
		if r.UserID != "" {
			if err := fusionrank.ValidateID(f+".user_id", r.UserID); err != nil {
				return fusionrank.SearchResult{}, err
			}
		}
		if len(r.Query.Text) > MaxSearchText || !utf8.ValidString(r.Query.Text) {
			return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.query.text: at most %d bytes of UTF-8", f, MaxSearchText)
		}
		if len(r.Query.Image) > 0 {
			return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.query.image: not kept in search logs; send the photo's vectors in query.vectors", f)
		}
		for m, v := range r.Query.Vectors {
			if err := fusionrank.ValidateID(f+".query.vectors", m); err != nil {
				return fusionrank.SearchResult{}, err
			}
			if err := fusionrank.ValidateVector(f+".query.vectors."+m, v, len(v)); err != nil {
				return fusionrank.SearchResult{}, err
			}
		}
		if len(r.Items) == 0 || len(r.Items) > MaxSearchItems {
			return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.items: give 1 to %d items, in the order shown", f, MaxSearchItems)
		}
		s := Search{ID: r.SearchID, At: r.Timestamp, Source: SearchFromEngine, UserID: r.UserID, Text: r.Query.Text, Vectors: r.Query.Vectors}
		for k, it := range r.Items {
			if err := fusionrank.ValidateID(fmt.Sprintf("%s.items[%d].id", f, k), it.ID); err != nil {
				return fusionrank.SearchResult{}, err
			}
			if it.Score != nil && (math.IsNaN(*it.Score) || math.IsInf(*it.Score, 0)) {
				return fusionrank.SearchResult{}, fusionrank.Errorf(fusionrank.Invalid, "%s.items[%d].score: not a finite number", f, k)
			}
			s.Impressions = append(s.Impressions, Impression{ItemID: it.ID, EngineScore: it.Score})
		}
		ss[i] = s
	}
	if err := l.Write(ctx, ss); err != nil {
		return fusionrank.SearchResult{}, err
	}
	return fusionrank.SearchResult{Accepted: len(ss)}, nil
}
