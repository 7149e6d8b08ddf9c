PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS core (
    user_id TEXT PRIMARY KEY,
    blocks  TEXT NOT NULL,
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS archive (
    seq              INTEGER PRIMARY KEY,
    user_id          TEXT NOT NULL,
    id               TEXT NOT NULL,
    content          TEXT NOT NULL,
    type             INTEGER NOT NULL,
    importance       REAL NOT NULL,
    created_at       INTEGER NOT NULL,    -- when it happened or was said
    entered_at       INTEGER NOT NULL,    -- when it entered memory: the clock decay runs on
    last_accessed_at INTEGER NOT NULL,
    access_count     INTEGER NOT NULL,
    metadata         TEXT,
    embedding        BLOB,
    forget_at        INTEGER,
    superseded_at    INTEGER,
    superseded_by    TEXT,
    history          TEXT,
    UNIQUE (user_id, id)
);
CREATE INDEX IF NOT EXISTS archive_by_age ON archive (user_id, created_at DESC, seq DESC);
-- The decay sweep reads only what is due: an index range, never a scan.
CREATE INDEX IF NOT EXISTS archive_by_forget_at ON archive (forget_at) WHERE forget_at IS NOT NULL;
-- The vector backfill reads only the memories stored without a vector (during an embedding outage).
CREATE INDEX IF NOT EXISTS archive_without_vector ON archive (user_id, seq) WHERE embedding IS NULL;


CREATE TABLE IF NOT EXISTS message (
    seq        INTEGER PRIMARY KEY,
    user_id    TEXT NOT NULL,
    id         TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS message_by_session ON message (user_id, session_id, seq DESC);
CREATE INDEX IF NOT EXISTS message_by_user ON message (user_id, seq DESC);
-- Listings go by the time each message was said (an import writes a conversation newest first).
CREATE INDEX IF NOT EXISTS message_by_session_time ON message (user_id, session_id, created_at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS message_by_user_time ON message (user_id, created_at DESC, seq DESC);
-- Terms from LexicalTerms (words, and CJK unigrams and bigrams), each prefixed with a hash of its
-- owner, so that a query reads only the posting lists of one user's terms. (Archive search reads an
-- in-memory index instead: LexicalIndexCache.)
CREATE VIRTUAL TABLE IF NOT EXISTS message_terms USING fts5 (terms, tokenize = 'unicode61 remove_diacritics 0', detail = 'none');

CREATE TABLE IF NOT EXISTS session (
    user_id            TEXT NOT NULL,
    session_id         TEXT NOT NULL,
    summary            TEXT NOT NULL,
    summarized_through INTEGER,
    version            INTEGER NOT NULL,
    PRIMARY KEY (user_id, session_id)
);
