package features

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/postgres"
)

// storedEvent is an event with its sequence number in Postgres and the item the same
// user interacted with just before it (the co-visitation predecessor, "" for none).
type storedEvent struct {
	fusionrank.Event
	Seq  int64
	Prev string
}

// IngestEvents is IngestEventsIn with the trusted id space (keys of scope write and
// above, imports).
func (s *Store) IngestEvents(ctx context.Context, evs []fusionrank.Event) (fusionrank.EventResult, error) {
	return s.IngestEventsIn(ctx, fusionrank.TrustedIDs, evs)
}

// IngestEventsIn validates events, commits the new ones to Postgres, then updates the
// online store. Event ids are idempotent within space: an exact replay of a stored event
// is a duplicate, never applied twice; an id stored with a different payload is a
// conflict naming the first field that differs, and the stored event stays. When Redis
// fails the call still succeeds: the events are in Postgres, and the profiles they touch
// are rebuilt from Postgres on their next read.
func (s *Store) IngestEventsIn(ctx context.Context, space fusionrank.EventIDSpace, evs []fusionrank.Event) (fusionrank.EventResult, error) {
	res := fusionrank.EventResult{Rejected: []fusionrank.EventRejection{}, Conflicts: []fusionrank.EventConflict{}}
	now := s.opt.Now()
	valid := make([]fusionrank.Event, 0, len(evs))
	index := make([]int, 0, len(evs))
	for i, ev := range evs {
		ev.Timestamp = ev.Timestamp.UTC()
		if err := s.validateEvent(ev, now); err != nil {
			res.Rejected = append(res.Rejected, fusionrank.EventRejection{Index: i, Error: fusionrank.ErrorMessage(err)})
			continue
		}
		valid = append(valid, ev)
		index = append(index, i)
	}
	if len(valid) == 0 {
		return res, nil
	}
	stored, counts, conflicts, err := s.insertEvents(ctx, space, valid)
	if err != nil {
		return res, err
	}
	res.Accepted = len(stored)
	res.Duplicates = len(valid) - len(stored) - len(conflicts)
	for _, c := range conflicts {
		c.Index = index[c.Index]
		res.Conflicts = append(res.Conflicts, c)
	}
	if s.hooks.beforeApply != nil {
		s.hooks.beforeApply()
	}
	if err := s.applyOnline(ctx, stored, counts); err != nil {
		s.warn("online store: update failed; profiles will be rebuilt from Postgres", err)
		res.Warnings = append(res.Warnings, "online store unavailable: the events are stored and profiles will be rebuilt from them")
	}
	return res, nil
}

func (s *Store) validateEvent(ev fusionrank.Event, now time.Time) error {
	for _, f := range []struct{ name, v string }{{"event_id", ev.EventID}, {"user_id", ev.UserID}, {"item_id", ev.ItemID}} {
		if err := fusionrank.ValidateID(f.name, f.v); err != nil {
			return err
		}
	}
	if !ev.Type.Valid() {
		return fusionrank.Errorf(fusionrank.Invalid, "type: %q is not one of view, click, add_to_cart, purchase", ev.Type)
	}
	// Both bounds compare instants in UTC: a timestamp with an offset is the moment it
	// names, whatever year its local clock reading shows.
	ts := ev.Timestamp.UTC()
	if ts.After(now.Add(s.opt.MaxFutureSkew)) {
		return fusionrank.Errorf(fusionrank.Invalid, "timestamp: %s is more than %s in the future", ts.Format(time.RFC3339), s.opt.MaxFutureSkew)
	}
	if ts.Year() < 1990 {
		return fusionrank.Errorf(fusionrank.Invalid, "timestamp: %s is before 1990", ts.Format(time.RFC3339))
	}
	return nil
}

// storedEventID is the key an event id is stored under in events.event_id: the id
// itself in the trusted space, and "<space>/<id>" in the others. Ids cannot contain "/",
// so no id of one space can equal a key of another; events stored before id spaces
// existed are in the trusted space.
func storedEventID(space fusionrank.EventIDSpace, id string) string {
	if space == fusionrank.TrustedIDs {
		return id
	}
	return string(space) + "/" + id
}

// clientEventID undoes storedEventID.
func clientEventID(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// insertEvents commits the events of space and returns those that were new, in (ts,
// seq) order, each of their users' count of stored events once they are in
// (users.events), and the events whose id was already stored with a different payload
// (Index counts in evs). The others were exact replays.
func (s *Store) insertEvents(ctx context.Context, space fusionrank.EventIDSpace, evs []fusionrank.Event) ([]storedEvent, map[string]int64, []fusionrank.EventConflict, error) {
	n := len(evs)
	eids, uids, iids, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tss := make([]time.Time, n)
	reqs, sess := make([]*string, n), make([]*string, n)
	for i, ev := range evs {
		eids[i], uids[i], iids[i], types[i], tss[i] = storedEventID(space, ev.EventID), ev.UserID, ev.ItemID, string(ev.Type), ev.Timestamp
		if ev.RequestID != "" {
			reqs[i] = &evs[i].RequestID
		}
		if ev.SessionID != "" {
			sess[i] = &evs[i].SessionID
		}
	}
	if err := s.ensurePartitions(ctx, tss); err != nil {
		return nil, nil, nil, err
	}
	var out []storedEvent
	var counts map[string]int64
	var conflicts []fusionrank.EventConflict
	err := s.db.Transact(ctx, func(tx pgx.Tx) error {
		out, conflicts = out[:0], conflicts[:0]
		counts = map[string]int64{}
		// An event is stored when its id enters event_ids (or, for ids stored before
		// events were partitioned, is not in events_legacy): the first event of the
		// batch with an id, as the unique index of an unpartitioned table would have it.
		rows, err := tx.Query(ctx, `
			WITH input AS (
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
					WITH ORDINALITY AS t(event_id, user_id, item_id, type, ts, request_id, session_id, n)),
			first AS (SELECT DISTINCT ON (event_id) * FROM input ORDER BY event_id, n),
			`+registerIDs+`,
			ins AS (
				INSERT INTO events (event_id, user_id, item_id, type, ts, request_id, session_id)
				SELECT f.event_id, f.user_id, f.item_id, f.type, f.ts, f.request_id, f.session_id FROM first f JOIN reg USING (event_id)
				ORDER BY f.n
				RETURNING seq, event_id, user_id, item_id, type, ts, request_id, session_id)
			SELECT ins.seq, ins.event_id, ins.user_id, ins.item_id, ins.type, ins.ts,
				coalesce(ins.request_id, ''), coalesce(ins.session_id, ''), coalesce(p.item_id, '')
			FROM ins LEFT JOIN LATERAL (
				SELECT e.item_id FROM events e
				WHERE e.user_id = ins.user_id AND (e.ts, e.seq) < (ins.ts, ins.seq)
				ORDER BY e.ts DESC, e.seq DESC LIMIT 1) p ON true`,
			eids, uids, iids, types, tss, reqs, sess)
		if err != nil {
			return err
		}
		inserted := map[string]bool{}
		for rows.Next() {
			var e storedEvent
			var typ, key string
			if err := rows.Scan(&e.Seq, &key, &e.UserID, &e.ItemID, &typ, &e.Timestamp, &e.RequestID, &e.SessionID, &e.Prev); err != nil {
				rows.Close()
				return err
			}
			e.EventID = clientEventID(key)
			e.Type = fusionrank.EventType(typ)
			out = append(out, e)
			counts[e.UserID]++
			inserted[key] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if conflicts, err = compareReplays(ctx, tx, evs, eids, inserted); err != nil {
			return err
		}
		return raiseEventCounts(ctx, tx, counts)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	// Within one batch the CTE cannot see its own rows, so chain predecessors here.
	sort.Slice(out, func(i, j int) bool { return laterEvent(out[j], out[i]) })
	last := map[string]storedEvent{}
	for i := range out {
		if p, ok := last[out[i].UserID]; ok {
			out[i].Prev = p.ItemID
		}
		last[out[i].UserID] = out[i]
	}
	return out, counts, conflicts, nil
}

// compareReplays reads, within the storing transaction, the stored events whose keys
// (eids) the insert skipped, and returns the events of evs that differ from them. The
// first event of the batch with a key that was inserted is the stored one; a later
// event of the batch with the same key is compared with it like any replay.
func compareReplays(ctx context.Context, tx pgx.Tx, evs []fusionrank.Event, eids []string, inserted map[string]bool) ([]fusionrank.EventConflict, error) {
	var replays []int
	var keys []string
	first := map[string]bool{}
	for i, k := range eids {
		if inserted[k] && !first[k] {
			first[k] = true // this event is the one stored
			continue
		}
		replays = append(replays, i)
		keys = append(keys, k)
	}
	if len(replays) == 0 {
		return nil, nil
	}
	// An id of event_ids finds its event by user and time (events_user_ts, in one
	// partition); an id stored before partitioning is in events_legacy's unique index.
	rows, err := tx.Query(ctx, `
		SELECT e.event_id, e.user_id, e.item_id, e.type, e.ts, coalesce(e.request_id, ''), coalesce(e.session_id, '')
		FROM event_ids r JOIN events e ON e.user_id = r.user_id AND e.ts = r.ts AND e.event_id = r.event_id
		WHERE r.event_id = ANY($1)
		UNION ALL
		SELECT event_id, user_id, item_id, type, ts, coalesce(request_id, ''), coalesce(session_id, '')
		FROM events_legacy WHERE event_id = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	stored := map[string]fusionrank.Event{}
	for rows.Next() {
		var e fusionrank.Event
		var key, typ string
		if err := rows.Scan(&key, &e.UserID, &e.ItemID, &typ, &e.Timestamp, &e.RequestID, &e.SessionID); err != nil {
			rows.Close()
			return nil, err
		}
		e.Type = fusionrank.EventType(typ)
		stored[key] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []fusionrank.EventConflict
	for _, i := range replays {
		prev, ok := stored[eids[i]]
		if !ok {
			// Not stored and not readable: the insert skipped it for a row that a
			// concurrent transaction deleted since. Nothing deletes events, so this
			// is a bug rather than a state a client can cause.
			return nil, fmt.Errorf("event %q: skipped as a replay but not stored", eids[i])
		}
		if field := differingField(prev, evs[i]); field != "" {
			out = append(out, fusionrank.EventConflict{Index: i, EventID: evs[i].EventID, Field: field,
				Error: fmt.Sprintf("event_id %q is already stored with a different %s; an event id is used once, and a retry must repeat the event exactly", evs[i].EventID, field)})
		}
	}
	return out, nil
}

// differingField names the first field in which a replayed event differs from the
// stored one, or "" for an exact replay. Timestamps compare at Postgres's microsecond
// precision.
func differingField(stored, sent fusionrank.Event) string {
	switch {
	case stored.UserID != sent.UserID:
		return "user_id"
	case stored.ItemID != sent.ItemID:
		return "item_id"
	case stored.Type != sent.Type:
		return "type"
	case stored.Timestamp.UnixMicro() != sent.Timestamp.UnixMicro():
		return "timestamp"
	case stored.RequestID != sent.RequestID:
		return "request_id"
	case stored.SessionID != sent.SessionID:
		return "session_id"
	}
	return ""
}

// raiseEventCounts adds the new events of each user (added: user → how many) to
// users.events and replaces each value of added with the user's count afterwards. The
// update locks the users' rows until commit, in id order (as every writer of events
// does, so that concurrent batches cannot deadlock): a user's batches therefore commit
// in the order of their counts.
func raiseEventCounts(ctx context.Context, tx pgx.Tx, added map[string]int64) error {
	if len(added) == 0 {
		return nil
	}
	ids := make([]string, 0, len(added))
	for u := range added {
		ids = append(ids, u)
	}
	slices.Sort(ids)
	ns := make([]int64, len(ids))
	for i, u := range ids {
		ns[i] = added[u]
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO users (id, events) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (id) DO UPDATE SET events = users.events + excluded.events
		RETURNING id, events`, ids, ns)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		var n int64
		if err := rows.Scan(&u, &n); err != nil {
			return err
		}
		added[u] = n
	}
	return rows.Err()
}

func laterEvent(a, b storedEvent) bool {
	return a.Timestamp.After(b.Timestamp) || (a.Timestamp.Equal(b.Timestamp) && a.Seq > b.Seq)
}

// casProfile replaces a profile only if its event count (bytes 13–20 of the value) is
// still the one the update was computed from.
var casProfile = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or string.sub(cur, 13, 20) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

// applyAttempts bounds the rounds of applyOnline: after the last one, a profile it
// could not update is dropped, to be rebuilt from Postgres on its next read.
const applyAttempts = 6

// profileFloorTTL is how long a user's floor key lives: longer than any rebuild
// (RebuildTimeout) that could have read Postgres before the events that raised it.
const profileFloorTTL = 2 * RebuildTimeout

// profileHeader is the header of a cached profile, which the scripts check before
// reading a profile's event count.
var profileHeader = string(putHeader(nil, kindProfile))

// settle queues settleProfile for user u on pipe: leave a profile of at least after
// events alone, else (drop) delete it or (no drop) report that it must be read again;
// then raise the user's floor to after.
func (s *Store) settle(ctx context.Context, pipe redis.Pipeliner, u string, after int64, drop bool) *redis.Cmd {
	return settleProfile.Eval(ctx, pipe, []string{s.userKey("profile", u), s.userKey("pfloor", u)}, after, profileFloorTTL.Milliseconds(), drop, profileHeader)
}

// profileLua holds the Lua functions the profile scripts share. count is the event
// count of the profile in cur (bytes 13–20, little-endian) when cur is a profile of
// this codec (header), else -1. settle ends applyOnline's work on a profile it does
// not update (keys kp, kf: the profile and the user's floor): a profile of at least
// after events is left alone; otherwise a cached one means, without drop, that the
// caller must read it again (0), and with drop it is deleted; then the floor is raised
// to after (1).
const profileLua = `
local function count(cur, header)
  if cur and string.len(cur) >= 20 and string.sub(cur, 1, 4) == header then
    return struct.unpack('<i8', cur, 13)
  end
  return -1
end
local function settle(kp, kf, after, ttl, drop, header)
  local cur = redis.call('GET', kp)
  if cur then
    if count(cur, header) >= after then return 1 end
    if not drop then return 0 end
    redis.call('DEL', kp)
  end
  if tonumber(redis.call('GET', kf) or '0') < after then redis.call('SET', kf, after, 'PX', ttl) end
  return 1
end
`

// settleProfile is settle (KEYS: profile, floor; ARGV: after, floor TTL ms, drop,
// header).
var settleProfile = redis.NewScript(profileLua + `
return settle(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', ARGV[4])`)

// casOrSettle is casProfile for the last round (KEYS: profile, floor; ARGV: old count
// bytes, value, TTL ms, after, floor TTL ms, header): when the profile changed, it
// settles it with drop.
var casOrSettle = redis.NewScript(profileLua + `
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 13, 20) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return settle(KEYS[1], KEYS[2], tonumber(ARGV[4]), ARGV[5], true, ARGV[6])`)

// cacheRebuilt writes a profile rebuilt from Postgres (KEYS: profile, floor; ARGV: its
// event count, value, TTL ms, header) unless events were stored after its read (the
// floor is above its count: 0) or the cached profile already holds as many (2).
var cacheRebuilt = redis.NewScript(profileLua + `
local n = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') > n then return 0 end
if count(redis.call('GET', KEYS[1]), ARGV[4]) >= n then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

// incrIfBuilt increments members of a counter set (ARGV: increment, member, increment,
// member, …) only when the set exists: a missing set is rebuilt from Postgres on its next
// read, and a partial one must not be created.
var incrIfBuilt = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV, 2 do
    redis.call('ZINCRBY', KEYS[1], ARGV[i], ARGV[i+1])
  end
end
return 0`)

// applyOnline updates the cached profiles, popularity windows and co-visitation sets for
// newly stored events; counts holds each user's count of stored events after them.
//
// A cached profile holds exactly its user's first Events stored events (see
// sql/002_user_event_counts.sql), so a user's new events, which take the count from
// before to after, are applied only to a profile of exactly before events:
//   - a profile of after events or more already holds them (a rebuild read them);
//   - a missing profile stays missing, and the user's floor key is raised to after, so
//     that a rebuild which read fewer events does not cache what it read;
//   - a profile of fewer than before events waits for the update of an earlier batch,
//     a few milliseconds at most, and is otherwise dropped (and the floor raised).
//
// It reads all touched profiles in one round trip and writes them back with a
// compare-and-set in a second one; profiles that changed meanwhile are read again.
func (s *Store) applyOnline(ctx context.Context, evs []storedEvent, counts map[string]int64) (err error) {
	defer func() {
		if err != nil {
			for _, e := range evs {
				s.redisState.add(e.UserID)
			}
		}
	}()
	defer s.dropLocal(evs)
	if !s.redisState.redisUp() {
		return errRedisDown
	}
	defer func() { s.redisState.observe(err) }()
	byUser := map[string][]storedEvent{}
	for _, e := range evs {
		byUser[e.UserID] = append(byUser[e.UserID], e)
	}
	pending := make([]string, 0, len(byUser))
	for u := range byUser {
		pending = append(pending, u)
	}
	now := s.opt.Now()
	for attempt := 0; len(pending) > 0; attempt++ {
		last := attempt == applyAttempts-1
		keys := make([]string, len(pending))
		for i, u := range pending {
			keys[i] = s.userKey("profile", u)
		}
		// One GET per profile in one pipeline rather than an MGET: a cluster client
		// sends each node its share of a pipeline, while an MGET across slots fails.
		vals := make([]string, len(keys))
		{
			rp := s.rdb.Pipeline()
			gets := make([]*redis.StringCmd, len(keys))
			for i, k := range keys {
				gets[i] = rp.Get(ctx, k)
			}
			if _, err := rp.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for i, g := range gets {
				vals[i] = g.Val()
			}
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(pending))
		wait := make([]bool, len(pending))
		for i, u := range pending {
			after := counts[u]
			before := after - int64(len(byUser[u]))
			str := vals[i]
			if str == "" {
				cmds[i] = s.settle(ctx, pipe, u, after, last)
				continue
			}
			p, ok := decodeProfile([]byte(str))
			switch {
			case !ok:
				cmds[i] = s.settle(ctx, pipe, u, after, true)
			case p.Events >= after:
				// A rebuild already read these events.
			case p.Events == before:
				for _, e := range byUser[u] {
					p.apply(s.opt.Rules, e.Event, e.Seq, s.catalog.ItemVectors)
				}
				if last {
					// No more attempts if the compare-and-set fails: settle instead.
					cmds[i] = casOrSettle.Eval(ctx, pipe, []string{keys[i], s.userKey("pfloor", u)}, appendI64(nil, before), p.encode(),
						s.opt.ProfileTTL.Milliseconds(), after, profileFloorTTL.Milliseconds(), profileHeader)
				} else {
					cmds[i] = casProfile.Eval(ctx, pipe, keys[i:i+1], appendI64(nil, before), p.encode(), s.opt.ProfileTTL.Milliseconds())
				}
			case last:
				cmds[i] = s.settle(ctx, pipe, u, after, true)
			default:
				wait[i] = true // an earlier batch of this user's is stored but not yet applied
			}
		}
		if attempt == 0 {
			s.queueCounters(ctx, pipe, evs, now)
			// Processes holding these profiles or sets in memory drop them (local.go);
			// the message follows the writes in the same pipeline.
			pipe.Publish(ctx, s.localChannel(), invalidation(evs))
		} else {
			pipe.Publish(ctx, s.localChannel(), "u "+strings.Join(pending, "\nu "))
		}
		_, err = pipe.Exec(ctx)
		s.dropLocal(evs)
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		var retry []string
		waiting := false
		for i, c := range cmds {
			if wait[i] {
				retry, waiting = append(retry, pending[i]), true
			} else if c != nil {
				if v, _ := c.Int(); v == 0 {
					retry = append(retry, pending[i])
				}
			}
		}
		pending = retry
		if waiting && len(pending) > 0 {
			time.Sleep(time.Duration(1<<attempt) * time.Millisecond)
		}
	}
	return nil
}

// queueCounters adds the popularity and co-visitation increments of evs to pipe, one
// script call per counter set.
func (s *Store) queueCounters(ctx context.Context, pipe redis.Pipeliner, evs []storedEvent, now time.Time) {
	incr := map[string]map[string]int{} // key → member → increment
	var order []string
	add := func(key, member string) {
		m := incr[key]
		if m == nil {
			m = map[string]int{}
			incr[key] = m
			order = append(order, key)
		}
		m[member]++
	}
	for _, e := range evs {
		if age := now.Sub(e.Timestamp); age >= 0 && age < 8*24*time.Hour {
			add(s.popKey(hourBucket, e.Timestamp), e.ItemID)
			add(s.popKey(dayBucket, e.Timestamp), e.ItemID)
		}
		if e.Prev != "" && e.Prev != e.ItemID {
			add(s.itemKey("covis", e.Prev), e.ItemID)
		}
	}
	for _, key := range order {
		args := make([]any, 0, 2*len(incr[key]))
		for member, n := range incr[key] {
			args = append(args, n, member)
		}
		incrIfBuilt.Eval(ctx, pipe, []string{key}, args...)
	}
}

var errRedisDown = errors.New("redis marked down after a recent failure")

// redisState is what the store knows of Redis: whether it failed recently (the circuit
// breaker: after a failure the store answers from Postgres for a second instead of
// waiting on Redis timeouts), and the users whose cached profile may have missed
// events because Redis failed (their profiles are rebuilt from Postgres).
type redisState struct {
	lastOK   atomic.Int64 // unix nanoseconds of the last successful Redis call (±10 ms)
	onError  func(error)  // Options.OnRedisError
	mu       sync.Mutex
	users    map[string]bool
	downTill time.Time
}

func newRedisState() *redisState { return &redisState{users: map[string]bool{}} }

func (d *redisState) add(u string) {
	d.mu.Lock()
	if len(d.users) < 1_000_000 {
		d.users[u] = true
	}
	d.mu.Unlock()
}

func (d *redisState) has(u string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.users[u]
}

func (d *redisState) clear(u string) {
	d.mu.Lock()
	delete(d.users, u)
	d.mu.Unlock()
}

// redisUp reports whether Redis should be tried now.
func (d *redisState) redisUp() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Now().After(d.downTill)
}

// observe records the outcome of a Redis call. A connection failure marks Redis down
// for a second (callers then go to Postgres). A timeout does so only when no call has
// succeeded for a second: on a busy machine one slow reply is common, and treating it as
// an outage would send every request to Postgres at the worst moment.
func (d *redisState) observe(err error) {
	if err == nil || errors.Is(err, redis.Nil) {
		now := time.Now().UnixNano()
		if now-d.lastOK.Load() > int64(10*time.Millisecond) { // spare the shared cache line
			d.lastOK.Store(now)
		}
		return
	}
	// Our own deadlines (a request running out of time) say nothing about Redis.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	onErr := d.onError
	if onErr != nil {
		onErr(err)
	}
	if isTimeout(err) && time.Since(time.Unix(0, d.lastOK.Load())) < time.Second {
		return
	}
	d.mu.Lock()
	d.downTill = time.Now().Add(time.Second)
	d.mu.Unlock()
}

// isTimeout reports a Redis call that ran out of time (a read or write deadline, or no
// free connection in the pool) rather than one that failed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) || (errors.As(err, &ne) && ne.Timeout())
}

// UserEvents is a user and the number of their stored events.
type UserEvents struct {
	UserID string
	Events int64
}

// TopUsers returns the n users with the most stored events, most first (ties by id).
func (s *Store) TopUsers(ctx context.Context, n int) ([]UserEvents, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT user_id, count(*) FROM events GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT $1`, n)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []UserEvents
	for rows.Next() {
		var u UserEvents
		if err := rows.Scan(&u.UserID, &u.Events); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, u)
	}
	return out, postgres.Translate(rows.Err())
}

// registerIDs is the CTE "reg" that the API's and the importer's inserts share: it
// registers the ids of the CTE "first" (one row per event_id) in event_ids, skipping ids
// already there or in events_legacy, and returns the ids it registered: the events to
// insert.
const registerIDs = `reg AS (
				INSERT INTO event_ids (event_id, user_id, ts)
				SELECT event_id, user_id, ts FROM first f
				WHERE NOT EXISTS (SELECT 1 FROM events_legacy l WHERE l.event_id = f.event_id)
				ON CONFLICT (event_id) DO NOTHING
				RETURNING event_id)`
