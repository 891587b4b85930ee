-- 15: the node carrying each live session; a session whose node is no longer alive (its
-- push relay stopped saying so in node_alive) is over.
ALTER TABLE live_sessions ADD COLUMN node TEXT;
CREATE TABLE IF NOT EXISTS node_alive (
    node    TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);
