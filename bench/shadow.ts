import {spawn, type ChildProcess} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import Database from 'better-sqlite3'
import type {ShadowSummary} from '../src/shadow/summary.js'
import {mustSucceed, runCli} from './cli.js'
import {SCENARIO_MODEL, type Scenario, type Workspace} from './workspace.js'

export type ShadowRun = {
  run_id: string
  db: string
  requests: number
  /** Child process wall time: start-up, bundle loading, hashing the traffic, replay, final store writes. */
  wall_s: number
  max_rss_kb: number
  summary: ShadowSummary
}

/** `understudy shadow <traffic> --candidate v2 --fixtures … --json` in a child process, store on disk. */
export async function shadowCli(ws: Workspace, sc: Scenario, traffic: string, db: string, extra: string[] = []): Promise<ShadowRun> {
  const args = ['shadow', traffic, '--candidate', sc.candidate, '--fixtures', sc.fixtures, '--approver', 'pending', '--db', db, '--json', ...extra]
  const r = mustSucceed(await runCli(ws, args), `understudy ${args.join(' ')}`)
  const summary = JSON.parse(r.stdout) as ShadowSummary
  return {run_id: summary.run.id, db, requests: summary.requests + summary.skipped, wall_s: r.wall_s, max_rss_kb: r.max_rss_kb, summary}
}

/** Model calls the candidate side made in a run (read straight from the store file). */
export function candidateModelCalls(db: string, runId: string): number {
  const conn = new Database(db, {readonly: true})
  try {
    return (conn.prepare(`SELECT coalesce(sum(model_calls), 0) FROM requests WHERE run_id = ? AND side = 'candidate'`).pluck().get(runId) as number)
  } finally {
    conn.close()
  }
}

export type SandboxServer = {url: string; stop(): Promise<void>}

/** `understudy sandbox ollama --port 0` in its own process, serving the scenario's model name. */
export function startSandboxServer(): Promise<SandboxServer> {
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli-child.js')
  const proc: ChildProcess = spawn(process.execPath, [child, 'sandbox', 'ollama', '--port', '0', '--model', SCENARIO_MODEL], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => fail(new Error('sandbox ollama did not start within 30 s')), 30_000)
    const fail = (e: Error) => {
      clearTimeout(timer)
      proc.kill('SIGKILL')
      reject(e)
    }
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d))
    proc.on('exit', (code) => fail(new Error(`sandbox ollama exited ${code}: ${err.trim()}`)))
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (!m) return
      clearTimeout(timer)
      proc.removeAllListeners('exit')
      resolve({
        url: m[1]!,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null) return done()
            proc.once('exit', () => done())
            proc.kill('SIGTERM')
          }),
      })
    })
  })
}
