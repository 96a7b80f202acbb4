package features

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

// ImportChunk is how many rows a bulk import commits per transaction. A crash loses at
// most the chunks in flight; rerunning the import skips what was committed (events by
// event_id, items by upsert).
const ImportChunk = 50_000

// ImportStats counts what a bulk import did.
type ImportStats struct {
	Read       int // rows read from the input
	Accepted   int // rows newly stored (items: stored or replaced)
	Duplicates int // events already present (a rerun)
	Rejected   int // rows that failed validation
}

// ImportEvents loads events through COPY in chunks of ImportChunk rows,
// Options.ImportStreams chunks at once, each chunk in one transaction: COPY into a temporary table, then one
// statement registers the new ids (event_ids; a replayed event_id is skipped) and
// inserts their events, and their users' event counts are raised. Validation failures
// are counted and reported to reject, not fatal. progress is called after each chunk
// with the rows read so far. The cached profiles of the chunk's users are dropped after
// its commit, in Redis and in every serving process's local cache (RunLocalCache's
// channel), and rebuilt from Postgres on their next read. Counters are not touched: a
// counter set not in Redis is built from Postgres on its next read, imported events
// included; a set already cached counts them once it expires (Options.CounterTTL, or
// the few minutes an open popularity window lives). Chunks commit in any order; a user's events are versioned by the order of
// the commits (raiseEventCounts), as for concurrent API calls.
func (s *Store) ImportEvents(ctx context.Context, next func() (fusionrank.Event, error), reject func(n int, err error), progress func(read int)) (ImportStats, error) {
	var st ImportStats
	now := s.opt.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type chunk struct {
		rows [][]any
		ts   []time.Time
		read int // rows read once this chunk was full
	}
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	work := make(chan chunk)
	var wg sync.WaitGroup
	for range s.opt.ImportStreams {
		wg.Go(func() {
			for c := range work {
				if ctx.Err() != nil {
					continue
				}
				inserted, added, err := s.importChunk(ctx, c.rows, c.ts)
				if err != nil {
					fail(err)
					continue
				}
				s.dropProfiles(ctx, added)
				mu.Lock()
				st.Accepted += int(inserted)
				st.Duplicates += len(c.rows) - int(inserted)
				if progress != nil {
					progress(c.read)
				}
				mu.Unlock()
			}
		})
	}
	cur := chunk{rows: make([][]any, 0, ImportChunk)}
	send := func() bool {
		if len(cur.rows) == 0 {
			return true
		}
		mu.Lock()
		cur.read = st.Read
		mu.Unlock()
		select {
		case work <- cur:
		case <-ctx.Done():
			return false
		}
		cur = chunk{rows: make([][]any, 0, ImportChunk)}
		return true
	}
	for ctx.Err() == nil {
		ev, err := next()
		if err == errDone {
			break
		}
		mu.Lock()
		st.Read++
		read := st.Read
		if err == nil {
			err = s.validateEvent(ev, now)
		}
		if err != nil {
			st.Rejected++
			mu.Unlock()
			if reject != nil {
				reject(read, err)
			}
			continue
		}
		mu.Unlock()
		var req, sess any
		if ev.RequestID != "" {
			req = ev.RequestID
		}
		if ev.SessionID != "" {
			sess = ev.SessionID
		}
		ts := ev.Timestamp.UTC()
		cur.rows = append(cur.rows, []any{ev.EventID, ev.UserID, ev.ItemID, string(ev.Type), ts, req, sess})
		cur.ts = append(cur.ts, ts)
		if len(cur.rows) == ImportChunk && !send() {
			break
		}
	}
	send()
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return st, firstErr
}

// importChunk stores one chunk of validated events (rows as ImportEvents queues them)
// in one transaction and returns how many were new and each of their users' count of
// stored events afterwards.
func (s *Store) importChunk(ctx context.Context, rows [][]any, ts []time.Time) (int64, map[string]int64, error) {
	if err := s.ensurePartitions(ctx, ts); err != nil {
		return 0, nil, err
	}
	var inserted int64
	var added map[string]int64
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		inserted = 0
		// The chunk's sorts fit in memory with 64 MB (at 4 MB they spill to disk), and
		// a JIT compilation costs a chunk more than it saves.
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'; SET LOCAL jit = off;
			CREATE TEMP TABLE staged_events (
			event_id text, user_id text, item_id text, type text, ts timestamptz, request_id text, session_id text) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_events"},
			[]string{"event_id", "user_id", "item_id", "type", "ts", "request_id", "session_id"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		// The first row of the chunk with an id (COPY keeps the input's order in
		// ctid) is the one stored, unless the id is stored already: in event_ids, or
		// in events_legacy from before partitioning (see insertEvents). The ids are
		// registered in id order and the events inserted in (user, time) order, so
		// that consecutive inserts land on neighbouring pages of event_ids' and
		// events_user_ts's B-trees (docs/benchmarks.md: the index upkeep is most of
		// a row's cost; the ordering did not measurably lower it).
		qrows, err := tx.Query(ctx, `
			WITH first AS (SELECT DISTINCT ON (event_id) * FROM staged_events ORDER BY event_id, ctid),
			`+registerIDs+`,
			ins AS (
				INSERT INTO events (event_id, user_id, item_id, type, ts, request_id, session_id)
				SELECT f.event_id, f.user_id, f.item_id, f.type, f.ts, f.request_id, f.session_id FROM first f JOIN reg USING (event_id)
				ORDER BY f.user_id, f.ts
				RETURNING user_id)
			SELECT user_id, count(*) FROM ins GROUP BY user_id`)
		if err != nil {
			return err
		}
		added = map[string]int64{}
		for qrows.Next() {
			var u string
			var n int64
			if err := qrows.Scan(&u, &n); err != nil {
				qrows.Close()
				return err
			}
			added[u] = n
			inserted += n
		}
		qrows.Close()
		if err := qrows.Err(); err != nil {
			return err
		}
		return raiseEventCounts(ctx, tx, added)
	})
	return inserted, added, postgres.Translate(err)
}

// invalidateBatch is the most users one invalidation message of an import names.
const invalidateBatch = 1000

// errDone ends an import's input.
var errDone = doneError{}

type doneError struct{}

func (doneError) Error() string { return "done" }

// Done is what an import's next function returns at the end of its input.
func Done() error { return errDone }

// ImportItems loads items through COPY in chunks: validation and vectors as for PUT
// (text from the encoder), then an upsert from a temporary table. Rerunning it replaces
// the same items with the same values.
func (s *Store) ImportItems(ctx context.Context, next func() (fusionrank.Item, error), reject func(n int, err error), progress func(read int)) (ImportStats, error) {
	var st ImportStats
	var items [][]any
	var vecs [][]any
	photoIdx := map[string]int{}
	var photoIDs []string
	var photoWs []*photoWrite
	chunk := ImportChunk / 10
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		err := s.db.Transact(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE staged_items (LIKE items INCLUDING DEFAULTS) ON COMMIT DROP;
				CREATE TEMP TABLE staged_item_vectors (LIKE item_vectors) ON COMMIT DROP`); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_items"},
				[]string{"id", "title", "description", "category", "brand", "price", "attributes", "active"}, pgx.CopyFromRows(items)); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"staged_item_vectors"},
				[]string{"item_id", "modality", "model_version", "dim", "data"}, pgx.CopyFromRows(vecs)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `
				INSERT INTO items (id, title, description, category, brand, price, attributes, active)
				SELECT DISTINCT ON (id) id, title, description, category, brand, price, attributes, active FROM staged_items ORDER BY id
				ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
					category = EXCLUDED.category, brand = EXCLUDED.brand, price = EXCLUDED.price,
					attributes = EXCLUDED.attributes, active = EXCLUDED.active, updated_at = now(),
					seq = nextval('item_changes');
				DELETE FROM item_vectors v USING staged_items s WHERE v.item_id = s.id AND v.model_version = '';
				INSERT INTO item_vectors SELECT DISTINCT ON (item_id, modality) * FROM staged_item_vectors ORDER BY item_id, modality
					ON CONFLICT DO NOTHING;
				SELECT pg_notify('fusionrank_items', '')`)
			if err != nil || s.photos == nil {
				return err
			}
			_, err = s.writePhotos(ctx, tx, photoIDs, photoWs)
			return err
		})
		if err != nil {
			return postgres.Translate(err)
		}
		if s.photos != nil {
			s.photos.nudge()
		}
		st.Accepted += len(items)
		items, vecs = items[:0], vecs[:0]
		clear(photoIdx)
		photoIDs, photoWs = photoIDs[:0], photoWs[:0]
		if progress != nil {
			progress(st.Read)
		}
		return nil
	}
	for {
		it, err := next()
		if err == errDone {
			break
		}
		st.Read++
		var w *photoWrite
		if err == nil {
			w, err = s.prepareItem(&it)
		}
		if err != nil {
			st.Rejected++
			if reject != nil {
				reject(st.Read, err)
			}
			continue
		}
		attrs := it.Attributes
		if attrs == nil {
			attrs = map[string]any{}
		}
		aj, _ := json.Marshal(attrs)
		items = append(items, []any{it.ID, it.Title, it.Description, it.Category, it.Brand, it.Price, string(aj), it.Active})
		for m, v := range it.Vectors {
			vecs = append(vecs, []any{it.ID, m, "", int32(len(v)), appendFloats(make([]byte, 0, 4*len(v)), v)})
		}
		if j, dup := photoIdx[it.ID]; dup { // the later line wins, as for the item
			photoWs[j] = w
		} else {
			photoIdx[it.ID] = len(photoIDs)
			photoIDs, photoWs = append(photoIDs, it.ID), append(photoWs, w)
		}
		if len(items) == chunk {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	return st, flush()
}

// dropProfiles deletes the cached profiles of users whose events were stored without
// applyOnline (counts: user → count of stored events), raising their floors so that a
// rebuild which read Postgres before those events does not cache its profile, and
// tells every serving process to drop its local copy (the local cache's channel, in
// the same pipeline; messages of at most invalidateBatch users). When Redis fails,
// the users are marked for a rebuild on their next read in this process.
func (s *Store) dropProfiles(ctx context.Context, counts map[string]int64) {
	if len(counts) == 0 || s.rdb == nil {
		return
	}
	pipe := s.rdb.Pipeline()
	var msg strings.Builder
	users := 0
	for u, n := range counts {
		s.settle(ctx, pipe, u, n, true)
		if s.lc != nil {
			s.lc.profiles.Drop(u)
		}
		if users > 0 {
			msg.WriteByte('\n')
		}
		msg.WriteString("u " + u)
		if users++; users == invalidateBatch {
			pipe.Publish(ctx, s.localChannel(), msg.String())
			msg.Reset()
			users = 0
		}
	}
	if users > 0 {
		pipe.Publish(ctx, s.localChannel(), msg.String())
	}
	_, err := pipe.Exec(ctx)
	s.redisState.observe(err)
	if err != nil {
		s.warn("online store: dropping imported users' profiles failed; they are rebuilt on their next read here", err)
		for u := range counts {
			s.redisState.add(u)
		}
	}
}
