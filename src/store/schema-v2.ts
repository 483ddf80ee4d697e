/**
 * Schema version 2 of the trace store: rollout bundle history, incident drills, and the templates
 * of each bundle (so a rollback can write a remembered bundle back out in full, not only its
 * manifest). Additive only: v1 tables keep their meaning.
 *
 * `bundle_history` is an append-only event log. A row is a promotion of a bundle to a rollout stage
 * for one tenant (or `all`), or, with stage `bad`, the bundle being marked bad; nothing is ever
 * updated or deleted, so the history of an incident can always be read back as it happened.
 */
export const SCHEMA_V2 = `
ALTER TABLE bundles ADD COLUMN templates_json TEXT;

CREATE TABLE bundle_history (
  id          INTEGER PRIMARY KEY,
  bundle_hash TEXT NOT NULL,
  bundle_ref  TEXT NOT NULL,
  stage       TEXT NOT NULL CHECK (stage IN ('shadow', 'canary-1', 'ramp-10', 'ramp-50', 'full', 'bad')),
  tenant      TEXT NOT NULL,
  promoted_at TEXT NOT NULL,
  note        TEXT
) STRICT;

CREATE INDEX bundle_history_by_hash ON bundle_history (bundle_hash);

CREATE TABLE drills (
  id          INTEGER PRIMARY KEY,
  scenario    TEXT NOT NULL,
  started_at  TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  passed      INTEGER NOT NULL CHECK (passed IN (0, 1)),
  report_json TEXT NOT NULL
) STRICT;
`
