-- Each user's count of stored events, raised in the transaction that stores them. The
-- raise takes the user's row lock, so a user's event batches commit in the order of
-- their counts, and a snapshot that holds N of a user's events holds exactly the first N.
-- That count versions the profile cached in Redis: an event batch that takes a user from
-- N to M events applies to a cached profile of exactly N events, and a profile rebuilt
-- from Postgres is cached only when no later batch has been stored meanwhile.
ALTER TABLE users ADD COLUMN events bigint NOT NULL DEFAULT 0;

UPDATE users u SET events = c.n
FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id) c
WHERE u.id = c.user_id;

-- Events stored before their user had a row (none are expected) get one.
INSERT INTO users (id, events)
SELECT user_id, count(*) FROM events GROUP BY user_id
ON CONFLICT (id) DO NOTHING;
