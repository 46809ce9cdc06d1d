/* schema: versioned migrations. Append; never edit one that was released. */
#include "schema.h"

const pg_migration_t SCHEMA_MIGRATIONS[] = {
    {1, "CREATE TABLE accounts ("
        "  id bigserial PRIMARY KEY,"
        "  username text NOT NULL CHECK (username ~ '^[A-Za-z0-9_]{3,24}$'),"
        "  password_hash text NOT NULL,"
        "  created_at timestamptz NOT NULL DEFAULT now(),"
        "  last_login_at timestamptz);"
        "CREATE UNIQUE INDEX accounts_username_lower ON accounts (lower(username));"},
    /* Match records: one row per match (its id is the lobby's match id, so a retried write
     * can't duplicate it) and one per player, written in one statement. */
    {2, "CREATE TABLE matches ("
        "  id bigint PRIMARY KEY,"
        "  game_server_id integer NOT NULL,"
        "  room_id bigint NOT NULL,"
        "  started_at timestamptz NOT NULL,"
        "  ended_at timestamptz NOT NULL,"
        "  outcome text NOT NULL CHECK (outcome IN ('win', 'loss', 'timeout', 'aborted')));"
        "CREATE TABLE match_players ("
        "  match_id bigint NOT NULL REFERENCES matches (id),"
        "  user_id bigint NOT NULL,"
        "  username text NOT NULL,"
        "  kills integer NOT NULL,"
        "  damage_dealt integer NOT NULL,"
        "  damage_taken integer NOT NULL,"
        "  deaths integer NOT NULL,"
        "  score integer NOT NULL,"
        "  PRIMARY KEY (match_id, user_id));"
        "CREATE INDEX match_players_user ON match_players (user_id, match_id DESC);"},
    /* Game modes: the match's mode and its module's summary; per player the module's outcome
     * and whatever stats differ by mode (jsonb, so a new mode adds no column). A module match
     * that ended through ctx.finish has the match outcome 'finished'. */
    {3, "ALTER TABLE matches ADD COLUMN mode text NOT NULL DEFAULT 'arena',"
        "  ADD COLUMN summary text NOT NULL DEFAULT '';"
        "ALTER TABLE matches DROP CONSTRAINT matches_outcome_check;"
        "ALTER TABLE matches ADD CONSTRAINT matches_outcome_check"
        "  CHECK (outcome IN ('win', 'loss', 'timeout', 'aborted', 'finished'));"
        "ALTER TABLE match_players ADD COLUMN outcome text NOT NULL DEFAULT ''"
        "  CHECK (outcome IN ('', 'win', 'loss', 'draw')),"
        "  ADD COLUMN stats jsonb NOT NULL DEFAULT '{}'::jsonb;"},
};

const int SCHEMA_NMIGRATIONS = (int)(sizeof SCHEMA_MIGRATIONS / sizeof SCHEMA_MIGRATIONS[0]);
