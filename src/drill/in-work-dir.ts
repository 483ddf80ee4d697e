import {existsSync, mkdirSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {UnderstudyError} from '../errors.js'
import {openStore} from '../store/sqlite.js'
import {runDrill, type DrillOptions, type DrillReport} from './run.js'
import type {Drill} from './spec.js'

export type StoredDrill = DrillReport & {id: number; work_dir: string}

/**
 * `understudy drill`: the drill run in a work directory of its own (`work`, else
 * `drills/<name>-<time>` beside the store at `db`), which holds the drill's store (its runs and
 * history) and the mitigated bundle and must be new or empty; the report is then recorded in the
 * store at `db`.
 */
export async function runDrillInWorkDir(
  drill: Drill,
  opts: Omit<DrillOptions, 'workDir'> & {db: string; work?: string},
): Promise<StoredDrill> {
  const {db, work: workDir, ...drillOpts} = opts
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
  const work = path.resolve(workDir ?? path.join(path.dirname(path.resolve(db)), 'drills', `${drill.name}-${stamp}`))
  if (existsSync(work) && readdirSync(work).length > 0) throw new UnderstudyError(`${work}: not empty; pass another --work`)
  mkdirSync(work, {recursive: true})
  const env = openStore(drillStore(work))
  let report: DrillReport
  try {
    report = await runDrill(drill, env, {...drillOpts, workDir: work})
  } finally {
    env.close()
  }
  const store = openStore(db)
  try {
    const {id} = store.recordDrill({scenario: drill.name, started_at: report.started_at, finished_at: report.finished_at, passed: report.passed, report})
    return {...report, id, work_dir: work}
  } finally {
    store.close()
  }
}

/** The drill's own store in its work directory. */
export function drillStore(work: string): string {
  return path.join(work, 'drill.db')
}
