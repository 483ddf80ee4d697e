import Database from 'better-sqlite3'
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {mergeShards} from '../../src/runs/merge.js'
import {parseShard, recordShardKey, shardOfKey} from '../../src/shadow/shard.js'
import {resumeShadow, startShadow} from '../../src/shadow/run.js'
import type {RunInfo} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'
import {MAX_NESTING} from '../../src/util/nesting.js'
import {repoRoot} from '../helpers/cli.js'
import {runViews} from '../helpers/run-views.js'

// A domain the sharding code has never seen: tau-bench's retail orders, with the recorded model.
const scenario = path.join(repoRoot, 'scenarios', 'retail-orders')
const SESSIONS = 7
const SHARDS = 3

let dir: string
let traffic: string
/** Each traffic line: the id its traces are stored under, and its partition key. */
const lines: {id: string; session: string}[] = []
const shardFiles: string[] = []

/** A copy of a store with its run row edited by `sql`. */
function editedCopy(file: string, name: string, sql: string): string {
  const copy = path.join(dir, name)
  copyFileSync(file, copy)
  const db = new Database(copy)
  db.exec(sql)
  db.close()
  return copy
}

/** Options every run of this file shares; only the shard differs. */
const options = () => ({
  traffic,
  candidate: path.join(scenario, 'v2-repeatable-item-changes'),
  baseline: path.join(scenario, 'v1'),
  fixtures: path.join(scenario, 'fixtures.yaml'),
  model: 'recorded',
  run_name: 'retail-orders',
})

async function shadowInto(file: string, shard: {index: number; count: number} | null): Promise<RunInfo> {
  const store = openStore(file)
  try {
    return (await startShadow({...options(), shard}, store)).run
  } finally {
    store.close()
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-shard-'))
  // The recorded sessions are one request each: regroup them into a few sessions of several requests.
  const out: (string | Buffer)[] = readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const record = JSON.parse(l) as {id: string; session_id?: string}
      record.session_id = `sess-${i % SESSIONS}`
      lines.push({id: record.id, session: record.session_id})
      return JSON.stringify(record)
    })
  // Lines a run skips, which a shard must skip exactly when one process would: a repeated id (in
  // another session), a record that fails its checks (dropped unchecked by the other shards), and a
  // line that is not JSON.
  const first = JSON.parse(out[2] as string) as {id: string}
  out.push(JSON.stringify({...first, session_id: 'sess-9'}))
  lines.push({id: `${first.id}#line${out.length}`, session: 'sess-9'})
  out.push(JSON.stringify({id: 'broken-1', session_id: 'sess-2', tenant: 5}))
  lines.push({id: 'broken-1', session: 'sess-2'})
  out.push('not json')
  lines.push({id: `line-${out.length}`, session: `line-${out.length}`})
  // Lines whose bytes could be read as keyed by their session but which one process keys otherwise:
  // each shard must drop or keep them as one process partitions them (the reader's scan of a line's
  // keys must not decide them). Each session is one that hashes to another shard than the id.
  const apart = (key: string): string => Array.from({length: 50}, (_, k) => `sess-x${k}`).find((s) => shardOfKey(s, SHARDS) !== shardOfKey(key, SHARDS))!
  const plain = JSON.parse(out[3] as string) as Record<string, unknown>
  delete plain.id
  delete plain.session_id
  const body = JSON.stringify(plain).slice(1, -1)
  const bad = (id: string, tail: string | Buffer): Buffer => Buffer.concat([Buffer.from(`{"id":"${id}","session_id":"${apart(id)}","x":`), Buffer.from(tail), Buffer.from('}')])
  // Not JSON after its keys (a number with a leading zero), bad UTF-8, nested past the limit: skipped, keyed by the id.
  for (const [id, tail] of [
    ['bad-json-1', '01'],
    ['bad-utf8-1', Buffer.from([0x22, 0xff, 0x22])],
    ['too-deep-1', `${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`],
  ] as const) {
    out.push(bad(id, tail))
    lines.push({id, session: id})
  }
  // Records that replay: a second top-level id (JSON.parse keeps the last), a session key spelled with an escape.
  const [first1, last1] = ['dup-key-a', 'dup-key-b']
  expect(shardOfKey(first1, SHARDS)).not.toBe(shardOfKey(last1, SHARDS))
  out.push(`{"id":"${first1}",${body},"id":"${last1}"}`)
  lines.push({id: last1, session: last1})
  const escaped = apart('esc-key-1')
  out.push(`{"id":"esc-key-1",${body},"session\\u005fid":"${escaped}"}`)
  lines.push({id: 'esc-key-1', session: escaped})
  traffic = path.join(dir, 'traffic.jsonl')
  // As a Windows tool may write it: a BOM, CRLF line ends, a blank last line (each shard reads them as one process does).
  out.push('  ')
  writeFileSync(traffic, Buffer.concat([Buffer.from('\uFEFF'), ...out.map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\r\n')]))]))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('--shard i/N', () => {
  it('parses i/N and refuses anything else with one message', () => {
    expect(parseShard('2/4')).toEqual({index: 2, count: 4})
    expect(() => parseShard('0/4')).toThrow('--shard "0/4": the shard must be 1 to 4')
    expect(() => parseShard('5/4')).toThrow('the shard must be 1 to 4')
    expect(() => parseShard('2')).toThrow('expected i/N')
  })

  it('is a stable hash of the session (documented in docs/scale-out.md), else of the request id', () => {
    // Pinned: a change of the hash would split a resumed or merged run differently.
    // sha256('sess-0') starts 0e32adf0, ('sess-1') abe633f3, ('req-1') 9456bdfa.
    expect([shardOfKey('sess-0', 4), shardOfKey('sess-1', 4), shardOfKey('req-1', 7)]).toEqual([1 + (0x0e32adf0 % 4), 1 + (0xabe633f3 % 4), 1 + (0x9456bdfa % 7)])
    // The key's UTF-8 bytes, whatever characters it holds.
    for (const key of ['sess-é✓', 'セッション-7', '😀']) expect(shardOfKey(key, 5)).toBe(1 + (createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % 5))
    expect(recordShardKey({id: 'r1', session_id: 's1'})).toBe('s1')
    expect(recordShardKey({id: 'r1'})).toBe('r1')
  })
})

describe('the number of requests in flight', () => {
  it('changes neither the stored traces, in the order every reader reads them, nor any figure of diff, report or scorecard', async () => {
    const runs: {file: string; run: RunInfo}[] = []
    for (const concurrency of [1, 8]) {
      const file = path.join(dir, `concurrency-${concurrency}.db`)
      const store = openStore(file)
      try {
        runs.push({file, run: (await startShadow({...options(), concurrency}, store)).run})
      } finally {
        store.close()
      }
    }
    // Rows as every reader orders them (line, side, repeat: src/store/traces-repo.ts TRACE_ORDER); their
    // physical order follows which request finished first, which no reader sees.
    const stored = ({file, run}: {file: string; run: RunInfo}): unknown[] => {
      const db = new Database(file, {readonly: true})
      try {
        return db
          .prepare('SELECT request_id, line, side, repeat, status, final_answer, tool_calls_json, policy_decisions_json, (SELECT json FROM guardrail_lists g WHERE g.key = guardrail_list) AS guardrails, budget_hits FROM requests WHERE run_id = ? ORDER BY line, side_rank, repeat')
          .all(run.id)
      } finally {
        db.close()
      }
    }
    const [one, eight] = runs as [{file: string; run: RunInfo}, {file: string; run: RunInfo}]
    // Both sides of each replayed line, one row for each of the six lines the run skips.
    expect(stored(one).length).toBe(2 * (lines.length - 6) + 6)
    expect(stored(eight)).toEqual(stored(one))
    // The run's stored options name the concurrency it ran with; nothing else may differ.
    const optionsAside = (v: string[]): string[] => v.map((t) => t.replace(/\\?"concurrency\\?": \d+/g, 'CONCURRENCY'))
    expect(optionsAside(await runViews(eight.file, eight.run))).toEqual(optionsAside(await runViews(one.file, one.run)))
  })
})

describe('sharded replay merged into one run', () => {
  it('stores each session in one shard, and the merge reads as the single-process run', async () => {
    const single = path.join(dir, 'single.db')
    const singleRun = await shadowInto(single, null)
    for (let i = 1; i <= SHARDS; i++) {
      const file = path.join(dir, `shard-${i}.db`)
      const run = await shadowInto(file, {index: i, count: SHARDS})
      expect(run.config.shard).toEqual({index: i, count: SHARDS})
      // Exactly the requests of the sessions that hash to this shard, every one of them.
      const store = openStore(file, {readonly: true})
      const stored = new Set([...store.iterateTraces(run.id, {side: 'candidate'})].map((t) => t.request_id))
      store.close()
      const expected = lines.filter((l) => shardOfKey(l.session, SHARDS) === i).map((l) => l.id)
      expect([...stored].sort()).toEqual(expected.sort())
      expect(run.requests_total).toBe(expected.length)
      shardFiles.push(file)
    }

    const into = path.join(dir, 'merged.db')
    const merged = mergeShards([...shardFiles].reverse(), into)
    expect(merged.run.status).toBe('completed')
    expect(merged.run.requests_total).toBe(lines.length)
    expect(merged.run.config.shard).toBeNull()
    expect(merged.shards.map((s) => s.shard)).toEqual(['1/3', '2/3', '3/3'])
    // Built without a WAL, published with one, as every store is, and whole.
    const raw = new Database(into, {readonly: true})
    expect([raw.pragma('journal_mode', {simple: true}), raw.pragma('integrity_check', {simple: true})]).toEqual(['wal', 'ok'])
    raw.close()
    const [a, b] = [await runViews(single, singleRun), await runViews(into, merged.run)]
    expect(b).toEqual(a)
    // Every trace whole, its guardrail results included (each list is stored once per store and
    // copied with the rows that name it).
    const traces = (file: string, run: RunInfo) => {
      const store = openStore(file, {readonly: true})
      try {
        return [...store.iterateTraces(run.id)]
      } finally {
        store.close()
      }
    }
    const whole = traces(single, singleRun)
    expect(whole.some((t) => t.guardrails.length > 0)).toBe(true)
    expect(traces(into, merged.run)).toStrictEqual(whole)
    // The views have something in them to compare.
    expect(a[0]).toContain('"regression"')
    expect((JSON.parse(a[0]!) as {totals: {skipped: number}}).totals.skipped).toBe(6)

    // Every way the shards are not one run is one error naming the store, and writes nothing.
    const before = readFileSync(into)
    expect(() => mergeShards(shardFiles.slice(0, 2), into)).toThrow(/shard 3\/3 missing \(given: .*shard-1\.db 1\/3, .*shard-2\.db 2\/3\)/)
    expect(() => mergeShards([shardFiles[0]!, shardFiles[1]!, shardFiles[1]!, shardFiles[2]!], into)).toThrow(/shard-2\.db: shard 2\/3 again/)
    expect(() => mergeShards([...shardFiles, single], into)).toThrow(/single\.db: holds no shard run/)
    expect(() => mergeShards(shardFiles, shardFiles[0]!)).toThrow(/shard-1\.db: is both a shard and the --into store/)
    const otherSeed = editedCopy(shardFiles[1]!, 'seed.db', `UPDATE runs SET seed = 9, config_json = json_set(config_json, '$.seed', 9)`)
    expect(() => mergeShards([shardFiles[0]!, otherSeed, shardFiles[2]!], into)).toThrow(/seed\.db: shard 2\/3 \(run r\S+\) is not of the same run as .*shard-1\.db: seed differs \(9 here, 1 there\)/)
    const otherOption = editedCopy(shardFiles[1]!, 'option.db', `UPDATE runs SET config_json = json_set(config_json, '$.approver', 'approve')`)
    expect(() => mergeShards([shardFiles[0]!, otherOption, shardFiles[2]!], into)).toThrow(/option\.db: .* options differ: approver/)
    const otherCount = editedCopy(shardFiles[1]!, 'count.db', `UPDATE runs SET config_json = json_set(config_json, '$.shard.count', 4)`)
    expect(() => mergeShards([shardFiles[0]!, otherCount], into)).toThrow(/count\.db: shard 2\/4, but .*shard-1\.db is shard 1\/3: the shard counts differ/)
    const unfinished = editedCopy(shardFiles[2]!, 'unfinished.db', `UPDATE runs SET status = 'interrupted'`)
    expect(() => mergeShards([shardFiles[0]!, shardFiles[1]!, unfinished], into)).toThrow(/unfinished\.db: shard 3\/3 \(run \S+\) is interrupted, not completed; finish it with `understudy shadow --resume/)
    expect(readFileSync(into).equals(before)).toBe(true)
  })

  it('resumes an interrupted shard, and counts --limit over the whole file, as one process does', async () => {
    const runIn = (file: string): RunInfo => {
      const store = openStore(file, {readonly: true})
      try {
        return store.listRuns()[0]!
      } finally {
        store.close()
      }
    }
    const same = async (merged: {into: string; run: RunInfo}, single: string) => {
      expect(await runViews(merged.into, merged.run)).toEqual(await runViews(single, runIn(single)))
    }

    // Shard 2 stopped after a few of its requests (a pod preempted), then resumed in its own store.
    const file = path.join(dir, 'resumed-2.db')
    const store = openStore(file)
    const controller = new AbortController()
    try {
      const first = await startShadow({...options(), shard: {index: 2, count: SHARDS}}, store, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.requests >= 3) controller.abort()
        },
      })
      expect(first.interrupted).toBe(true)
      const second = await resumeShadow(first.run.id, store)
      expect(second.progress.already_stored).toBeGreaterThanOrEqual(3)
      expect(second.run.status).toBe('completed')
    } finally {
      store.close()
    }
    expect(shardFiles).toHaveLength(SHARDS)
    const resumed = mergeShards([shardFiles[0]!, file, shardFiles[2]!], path.join(dir, 'merged-resumed.db'))
    await same(resumed, path.join(dir, 'single.db'))

    // --limit counts lines over the whole file in every shard: the shards of a limited run are
    // the limited single-process run, cut before the skipped lines at the end and after them.
    for (const limit of [20, lines.length - 2]) {
      const single = path.join(dir, `single-limit-${limit}.db`)
      const limited = {...options(), limit}
      let store = openStore(single)
      await startShadow({...limited, shard: null}, store).finally(() => store.close())
      const files: string[] = []
      for (let i = 1; i <= SHARDS; i++) {
        files.push(path.join(dir, `limit-${limit}-${i}.db`))
        store = openStore(files.at(-1)!)
        await startShadow({...limited, shard: {index: i, count: SHARDS}}, store).finally(() => store.close())
      }
      const merged = mergeShards(files, path.join(dir, `merged-limit-${limit}.db`))
      expect(merged.run.requests_done).toBe(runIn(single).requests_done)
      await same(merged, single)
    }
  })

  it('is all or nothing: a merge that fails halfway leaves the target as it was, a new target absent', async () => {
    const into = path.join(dir, 'target.db')
    const target = openStore(into)
    target.createRun({name: 'kept', candidate_ref: 'c', candidate_hash: 'h', baseline_ref: 'recorded', baseline_hash: null, traffic_file: 't', traffic_hash: 'x', model: 'm', repeat: 1, faults: null, seed: 1, config: {}})
    target.close()
    // A trigger makes the copy fail once part of it is written (a full disk would, the same way).
    const raw = new Database(into)
    raw.exec(`CREATE TRIGGER fail_late BEFORE INSERT ON requests WHEN NEW.line > 40 BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`)
    raw.close()
    expect(() => mergeShards(shardFiles, into)).toThrow(/simulated/)
    const after = openStore(into, {readonly: true})
    expect(after.listRuns().map((r) => r.name)).toEqual(['kept'])
    after.close()

    const fresh = path.join(dir, 'fresh', 'merged.db')
    expect(() => mergeShards([shardFiles[0]!], fresh)).toThrow(/shards 2\/3, 3\/3 missing/)
    expect(existsSync(fresh)).toBe(false)

    // A new target is copied shard by shard (inside SQLite): a failure at the third shard, once two
    // are in, leaves no target and no temporary file beside it.
    const first = new Database(shardFiles[0]!, {readonly: true})
    const taken = first.prepare(`SELECT request_id FROM requests WHERE side = 'candidate' LIMIT 1`).pluck().get() as string
    first.close()
    const clash = editedCopy(shardFiles[2]!, 'clash.db', `UPDATE requests SET request_id = '${taken}' WHERE id = (SELECT min(id) FROM requests WHERE side = 'candidate')`)
    const late = path.join(dir, 'late', 'merged.db')
    mkdirSync(path.dirname(late))
    expect(() => mergeShards([shardFiles[0]!, shardFiles[1]!, clash], late)).toThrow(/clash\.db: cannot merge run r\S+ into .*late\/merged\.db: UNIQUE constraint failed/)
    expect(readdirSync(path.dirname(late))).toEqual([])
  })
})
