import {spawn, type ChildProcess} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import Database from 'better-sqlite3'
import type {ShadowOptionsInput} from '../src/store/run-config.js'
import type {ShadowChildResult} from './shadow-child.js'
import {SCENARIO_MODEL, type Scenario} from './workspace.js'

export type ShadowRun = ShadowChildResult & {db: string}

const SHADOW_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'shadow-child.js')

/**
 * One shadow run of the scenario's candidate (v2) against what production recorded, with its
 * fixtures and the bundle's scripted model unless `extra` says otherwise, in a child process,
 * store on disk.
 */
export function shadowRun(sc: Scenario, traffic: string, db: string, extra: Partial<ShadowOptionsInput> & {threads?: number} = {}): Promise<ShadowRun> {
  const input = {db, traffic, candidate: sc.candidate, fixtures: sc.fixtures, approver: 'pending', skills: [sc.skill], ...extra}
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHADOW_CHILD, JSON.stringify(input)], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-10_000)))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`shadow run exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))
      try {
        resolve({...(JSON.parse(out) as ShadowChildResult), db})
      } catch {
        reject(new Error(`shadow run printed no result: ${out.slice(0, 200)} ${err.slice(-500)}`))
      }
    })
  })
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
export function startSandboxServer(sc: Scenario): Promise<SandboxServer> {
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli-child.js')
  const proc: ChildProcess = spawn(process.execPath, [child, 'sandbox', 'ollama', '--port', '0', '--model', SCENARIO_MODEL, '--skill', sc.skill], {
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
    let started = false
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (started) return
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (!m) return
      started = true
      clearTimeout(timer)
      proc.removeAllListeners('exit')
      resolve({
        url: m[1]!,
        stop: () =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done()
            proc.once('exit', () => done())
            proc.kill('SIGTERM')
          }),
      })
    })
  })
}
