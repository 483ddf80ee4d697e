import {statSync} from 'node:fs'
import {hostname} from 'node:os'
import {RunBusyError, UnderstudyError} from '../errors.js'
import type {RunInfo, TraceDatabase} from '../store/api.js'
import {writerAlive} from '../store/run-writer.js'
import {findRun} from './open.js'

/**
 * `runs rm` and `runs prune`: which runs go, removing them, and giving their space back. A run that
 * a live process is writing (src/store/run-writer.ts) is never removed: `rm` refuses it, `prune`
 * keeps it and says so. Choosing is pure (`pruneSelection`); removing is one function.
 */

export type PruneRule = {keep: number} | {olderThanMs: number}

/** `30d`, `12h`, `90m`, `2w` as milliseconds; null when it is not one of those. */
export function parseAge(text: string): number | null {
  const m = /^(\d+)([mhdw])$/.exec(text.trim())
  if (!m) return null
  const unit = {m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}[m[2] as 'm' | 'h' | 'd' | 'w']
  return Number(m[1]) * unit
}

/** The runs a prune rule removes, of `runs` listed newest first. Pure. */
export function pruneSelection(runs: readonly RunInfo[], rule: PruneRule, now: Date = new Date()): RunInfo[] {
  if ('keep' in rule) return runs.slice(rule.keep)
  const cutoff = now.getTime() - rule.olderThanMs
  return runs.filter((r) => Date.parse(r.started_at) < cutoff)
}

/** Whether a live process holds the run (a stale claim does not count). */
export function heldByWriter(store: TraceDatabase, runId: string): boolean {
  const w = store.runWriter(runId)
  return w !== undefined && writerAlive(w)
}

/** The runs `ids` name (full ids or unique prefixes), each once; RunBusyError for one a live process writes. */
export function runsToRemove(store: TraceDatabase, ids: readonly string[], label: string): RunInfo[] {
  const out = new Map<string, RunInfo>()
  for (const id of ids) {
    const run = findRun(store, id, label)
    const w = store.runWriter(run.id)
    if (w !== undefined && writerAlive(w)) throw new RunBusyError(run.id, w.pid, w.host === hostname() ? null : w.host)
    out.set(run.id, run)
  }
  return [...out.values()]
}

export type Removal = {removed: string[]; bytes_before: number; bytes_after: number; bytes_freed: number}

/** The store's size on disk: the file and its write-ahead log. */
export function storeBytes(file: string): number {
  let n = 0
  for (const f of [file, `${file}-wal`]) {
    try {
      n += statSync(f).size
    } catch {
      // No log (or no file): nothing to count.
    }
  }
  return n
}

/**
 * Removes `runs` (their traces and claims go with them) and reclaims the space. Each run's claim is
 * checked again just before it goes, so a writer that started meanwhile keeps its run.
 */
export function removeRuns(store: TraceDatabase, file: string, runs: readonly RunInfo[]): Removal {
  const before = storeBytes(file)
  const removed: string[] = []
  for (const run of runs) {
    if (heldByWriter(store, run.id)) throw new UnderstudyError(`run ${run.id} started being written while removing; ${removed.length} run(s) removed before it, it is kept`)
    if (store.deleteRun(run.id)) removed.push(run.id)
  }
  if (removed.length > 0) store.reclaimSpace()
  const after = storeBytes(file)
  return {removed, bytes_before: before, bytes_after: after, bytes_freed: Math.max(0, before - after)}
}
