import {spawn} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {Workspace} from './workspace.js'

export type CliRun = {code: number; stdout: string; stderr: string; wall_s: number; max_rss_kb: number; user_s: number; system_s: number}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cli-child.js')
let runs = 0

/**
 * Runs one understudy command in a child process (bench/cli-child.js) and returns its output, its
 * wall time as measured by the child (so process start-up is in it, as for a user) and its peak RSS.
 * `stdout: 'discard'` drops output that would only cost memory (a diff listing of 100k requests).
 */
export function runCli(ws: Workspace, args: string[], opts: {stdout?: 'keep' | 'discard'; nodeArgs?: string[]; env?: Record<string, string>} = {}): Promise<CliRun> {
  const report = ws.file(`cli-${++runs}.json`)
  const keep = opts.stdout !== 'discard'
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CHILD, ...args], {
      env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env, BENCH_REPORT: report},
      stdio: ['ignore', keep ? 'pipe' : 'ignore', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      // Progress lines only matter when something fails; keep the tail.
      stderr = (stderr + d).slice(-20_000)
    })
    child.on('error', reject)
    child.on('close', (code) => {
      try {
        const r = JSON.parse(readFileSync(report, 'utf8')) as Omit<CliRun, 'stdout' | 'stderr' | 'code'>
        rmSync(report, {force: true})
        resolve({...r, code: code ?? -1, stdout, stderr})
      } catch {
        reject(new Error(`understudy ${args.join(' ')}: exited ${code} without a report\n${stderr.slice(-2000)}`))
      }
    })
  })
}

/** Throws with the command's own error output when it failed. */
export function mustSucceed(r: CliRun, what: string): CliRun {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`)
  return r
}
