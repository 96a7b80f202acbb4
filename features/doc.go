// Package features is fusionrank's feature store.
//
// Postgres is the source of truth: the catalogue (items, per-modality item vectors,
// float32 little-endian, L2-normalised on write), users, and the event history
// (idempotent on the client's event_id within the sender's id space: an exact replay is
// a duplicate, the same id with another payload a conflict naming the field). Every
// accepted write is committed there before the API answers. Text that Postgres cannot
// store (a NUL character) or that is not UTF-8 is refused per field before the write.
//
// Search logs (SearchLog; table searches, partitioned by day): one row per search with
// its query (text, query vectors, a photo's SHA-256) and the items shown in order with
// the engine's scores and grades as arrays, under the answer's request_id or a shop's
// search id. The searches the service answered are copied straight into the table
// (their ids are unique); reported and imported ones go through a staging table that
// leaves a search stored before alone.
// ExportSearches gives each impression its outcome, the strongest event that carries the
// search's id for that item (or a judged search's grade); Prune drops whole days past
// the retention.
//
// Redis is a cache that can be wiped at any moment (keys namespace:v2:…, TTL on every
// write, binary values with a versioned header; a value of another version or size
// reads as a miss). A user's keys share the hash tag {u:<user>} and an item's {i:<item>}
// (see Store.userKey), so that the scripts touching a user's profile and floor run on
// one slot of a Redis Cluster; the same names serve a single node:
//
//   - {u:<user>}:profile: the user's profile: per modality the time-decayed weighted mean of
//     the interacted items' vectors,
//
//     mean = Σ_e w_type(e) 2^{-(Ref - t_e)/h} v_e / Σ_e w_type(e) 2^{-(Ref - t_e)/h},
//
//     Ref the latest event time and h the half-life (default 7 days); the last 50
//     distinct items, most recent first; the purchased items. It is updated as events
//     arrive (read all touched profiles in one round trip, compare-and-set them back in
//     a second) and, on a miss, rebuilt from the user's events in Postgres and written
//     back. The sum does not depend on the order events are added in, so a rebuilt
//     profile equals the incrementally maintained one (a test proves it).
//
//     The profile's event count versions it. users.events, raised in the transaction
//     that stores a user's events (under the user's row lock), makes a user's batches
//     commit in count order, so a profile of N events holds exactly the first N. A
//     batch taking a user from N to M events updates only a cached profile of N events;
//     one of M or more already holds it; a missing one is left missing and the user's
//     {u:<user>}:pfloor key raised to M; a rebuild that read fewer than the floor does not
//     cache its profile and reads again. So an event that races a rebuild is neither
//     lost (the rebuild read before it, the update found nothing to update) nor counted
//     twice (the rebuild read it, the update came after). Bulk imports drop the cached
//     profiles of the users they touch, raising the floor the same way.
//
//   - pop:h:<hour> and pop:d:<day>: event counts per item in hour and day buckets; the
//     1-hour, 1-day and 7-day windows slide over them (the oldest bucket counts by the
//     share of it still inside the window).
//
//   - {i:<item>}:covis: how often each item directly followed this one in a user's history.
//
// Counter sets are only ever incremented when they exist; a missing one is rebuilt from
// Postgres on its next read, so a partial set is never created. WarmCovisitation builds
// every missing co-visitation set in one pass over the events, and WarmProfiles every
// recent shopper's profile. RunWarm (serve runs it) runs both at start and again when
// Redis has lost its data, which it tells by the absence of a marker key (the key
// warm). While a warm-up after a wipe runs, co-visitation sets are not rebuilt per
// item, and serving answers a missing profile without personalisation instead of
// waiting for its rebuild: under load, per-item and per-shopper rebuilds pile up on
// Postgres faster than they finish, and the shoppers stay unpersonalised.
//
// Serving reads counters cheaply: RunCounters keeps every catalogue item's popularity
// windows and the trending list in process memory (popcache.go), re-reading the hour
// buckets every second, the open day bucket every 10 s and closed buckets every
// minute, with ZSCAN in chunks so that Redis is never blocked by one large reply; a
// request then needs no Redis call for popularity. Co-visitation is read per request,
// the existence check pipelined with the read (one round trip unless a set must be
// rebuilt).
//
// Order of work for events: commit to Postgres, then update Redis in the same request.
// If Redis fails the request still succeeds; the users touched are marked and their
// profiles rebuilt from Postgres on the next read, and for a second the store answers
// from Postgres without waiting on Redis (a breaker). A connection failure trips the
// breaker; a timeout trips it only when no Redis call has succeeded for a second, since
// on a busy machine a single slow reply is common and sending every request to
// Postgres then makes things worse.
//
// The serving process keeps its own copy of the catalogue (Catalog): metadata and one
// contiguous float32 block per model-independent modality, refreshed from Postgres by
// item change sequence numbers (LISTEN/NOTIFY wakes it, polling backs it up; a poll
// that finds max(seq) unchanged reads nothing else). A writer takes its seq before it
// commits, so a refresh reads only up to the seq below which every change is
// committed: every statement that writes items holds an advisory lock shared (a
// trigger, sql/011), and the refresh takes it exclusively on the primary for a moment
// (at most 50 ms; past that it tries again at the next poll; a process's first load
// waits until it has it). Ids map
// to slots through an inline open-addressing table (idindex.go), one cache line per
// lookup.
//
// With Options.Replica, the heavy reads (rebuilds, warm-ups, catalogue loads, exports)
// go to a streaming replica and a profile rebuild that the replica is behind on is
// read from the primary: replica.go says which path uses which pool and why that is
// safe.
//
// Export streams the event log in time order for training: one example per labelled
// event with the history and counters strictly before it. ImportItems and ImportEvents
// load files through COPY in chunks, safe to rerun.
//
// The text encoder (package features/text) turns titles and descriptions into the
// "text" modality and query words into tokens.
package features
