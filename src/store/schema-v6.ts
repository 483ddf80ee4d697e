/**
 * Schema version 6 of the trace store: the process writing each run (src/store/run-writer.ts).
 * A run has at most one row here, taken in an IMMEDIATE transaction when the run is created or
 * resumed and deleted, together with setting the run's final status, when that writer ends. A row
 * whose process is gone (killed, crashed) is stale and the next claim replaces it.
 *
 * `token` is unique to one claim, so a writer only ever renews or releases its own claim.
 * `pid_start` tells a reused pid from the writer (on Linux the boot id and the process's start
 * tick; NULL where the OS does not say). `heartbeat_at` is renewed while the run is written; a
 * claim from another host is judged by it alone, since its pid cannot be checked from here.
 *
 * Additive only: runs stored before v6 have no row, so any of them can be resumed.
 */
export const SCHEMA_V6 = `
CREATE TABLE run_writers (
  run_id       TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  token        TEXT NOT NULL,
  pid          INTEGER NOT NULL CHECK (pid > 0),
  host         TEXT NOT NULL,
  pid_start    TEXT,
  claimed_at   TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
) STRICT;
`
