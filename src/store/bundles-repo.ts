import {createRedactor} from '../runtime/redact.js'
import {canonicalJson} from '../util/canonical.js'
import type {BundleRecord} from './api.js'
import type {StoreConnection} from './database.js'

type BundleRow = {hash: string; ref: string; manifest_json: string; first_seen_at: string; templates_json: string | null}

/** Every bundle the store has seen, by content hash (`bundles`). See TraceDatabase for the contract. */
export class BundlesRepo {
  private readonly stmt: ReturnType<typeof prepare>
  private readonly redactor = createRedactor()

  constructor(private readonly conn: StoreConnection) {
    this.stmt = prepare(conn)
  }

  /**
   * The first sighting (ref, time) is kept; templates fill in a bundle first recorded without them.
   * Manifest and templates are stored redacted (a key pasted into a description stays out of the
   * store); `hash` is the caller's, over the bundle as it is, so a bundle holding a secret is
   * stored as a copy that no longer hashes to it.
   */
  record(hash: string, ref: string, manifest: unknown, templates?: Record<string, string>): void {
    const templatesJson = templates === undefined ? null : canonicalJson(this.redactor.redactValue(templates))
    const manifestJson = canonicalJson(this.redactor.redactValue(manifest))
    this.conn.guard(() => this.stmt.insert.run(hash, ref, manifestJson, new Date().toISOString(), templatesJson))
  }

  /** Oldest first. */
  list(): BundleRecord[] {
    return this.conn.guard(() => (this.stmt.list.all() as BundleRow[]).map(decodeBundle))
  }

  /** By full hash. */
  get(hash: string): BundleRecord | undefined {
    return this.conn.guard(() => {
      const row = this.stmt.byHash.get(hash) as BundleRow | undefined
      return row === undefined ? undefined : decodeBundle(row)
    })
  }
}

function decodeBundle(b: BundleRow): BundleRecord {
  return {
    hash: b.hash,
    ref: b.ref,
    manifest: JSON.parse(b.manifest_json),
    first_seen_at: b.first_seen_at,
    templates: b.templates_json === null ? null : (JSON.parse(b.templates_json) as Record<string, string>),
  }
}

function prepare({db}: StoreConnection) {
  return {
    // A bundle first seen without its templates gets them from a later sighting that has them.
    insert: db.prepare(
      `INSERT INTO bundles (hash, ref, manifest_json, first_seen_at, templates_json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET templates_json = excluded.templates_json
       WHERE bundles.templates_json IS NULL AND excluded.templates_json IS NOT NULL`,
    ),
    list: db.prepare('SELECT hash, ref, manifest_json, first_seen_at, templates_json FROM bundles ORDER BY first_seen_at, hash'),
    byHash: db.prepare('SELECT hash, ref, manifest_json, first_seen_at, templates_json FROM bundles WHERE hash = ?'),
  }
}
