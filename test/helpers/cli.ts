import {spawn} from 'node:child_process'
import {readdirSync, readlinkSync} from 'node:fs'
import path from 'node:path'
import {Readable, Writable} from 'node:stream'
import {fileURLToPath} from 'node:url'
import {format} from 'node:util'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = path.join(repoRoot, 'bin', 'run.js')

export type CliResult = {code: number; stdout: string; stderr: string}
export type CliOptions = {cwd?: string; env?: Record<string, string>; input?: string}

/** What every CLI test runs with, in or out of process: plain text, whatever the developer's shell says. */
const BASE_ENV = {NO_COLOR: '1', FORCE_COLOR: '0'}

/**
 * Runs a built CLI command (`npm test` builds dist/ first) in this test worker, through oclif's
 * `execute` exactly as bin/run.js does: the same command lookup, the same `--help`/`--version`
 * handling, and errors rendered by the same `handle` (oclif's pretty-print, or BaseCommand's one
 * line), so the result is what a user would see from the binary. No process is spawned: a spawned
 * CLI costs ~1 s of CPU, and on a loaded machine that was what made the CLI tests time out.
 *
 * While the command runs it sees stdout/stderr/stdin as pipes do (no `isTTY`, no `columns`),
 * `cwd` as its working directory and `env` on top of the worker's environment. Calls queue: the
 * process-wide state swapped here (streams, console, cwd, env, exitCode) belongs to one command at a time.
 *
 * A command that leaves an SQLite file, a thread or a signal handler behind fails the call: out of
 * process the exit hides such a leak, but `understudy` is also a library and a long-lived host
 * (the TUI, a test worker) would keep it. Use `runCliProcess` where the process boundary itself is
 * under test: signals, a real TTY or its absence, the exit of a real process.
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const result = queue.then(() => runInProcess(args, options))
  queue = result.then(
    () => undefined,
    () => undefined,
  )
  return result
}

let queue: Promise<void> = Promise.resolve()
let oclif: Promise<Oclif> | undefined

type Oclif = {Config: typeof import('@oclif/core').Config; execute: typeof import('@oclif/core').execute; Exit: typeof import('@oclif/core/handle').Exit}

/** Imported on first use, not with this module: most test files take only `repoRoot` from here. */
function loadOclif(): Promise<Oclif> {
  oclif ??= (async () => {
    const [{Config, execute}, {Exit}] = await Promise.all([import('@oclif/core'), import('@oclif/core/handle')])
    return {Config, execute, Exit}
  })()
  return oclif
}

/** Thrown in place of process.exit so that a command calling it ends its run, not the test worker. */
class ProcessExit extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`)
  }
}

/** A pipe-like sink: no isTTY, no columns, every chunk kept in order as it is written. */
function sink(): {stream: Writable; text: () => string} {
  const chunks: Buffer[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, encoding, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding))
      done()
    },
  })
  return {stream, text: () => Buffer.concat(chunks).toString('utf8')}
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const
const CONSOLE = ['log', 'info', 'debug', 'error', 'warn', 'trace'] as const

async function runInProcess(args: string[], options: CliOptions): Promise<CliResult> {
  const out = sink()
  const err = sink()
  // spawnSync's stdin was a pipe holding `input`, then end of file; so is this.
  const stdin = Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)])
  const env = {...BASE_ENV, ...options.env}

  const saved = {
    streams: STREAMS.map((name) => Object.getOwnPropertyDescriptor(process, name)!),
    console: CONSOLE.map((name) => console[name]),
    env: Object.keys(env).map((k) => [k, process.env[k]] as const),
    cwd: process.cwd(),
    argv: process.argv,
    exit: process.exit,
    exitCode: process.exitCode,
  }
  const before = snapshot()

  let exitCode: number | undefined
  const replace = {stdin, stdout: out.stream, stderr: err.stream}
  for (const name of STREAMS) Object.defineProperty(process, name, {value: replace[name], configurable: true, enumerable: true, writable: true})
  for (const name of ['log', 'info', 'debug'] as const) console[name] = (...a: unknown[]) => void out.stream.write(format(...a) + '\n')
  for (const name of ['error', 'warn', 'trace'] as const) console[name] = (...a: unknown[]) => void err.stream.write(format(...a) + '\n')
  Object.assign(process.env, env)
  // oclif's handle() shows help for some parse errors from process.argv, as the binary's would be.
  process.argv = [process.execPath, bin, ...args]
  process.exitCode = undefined
  process.exit = ((code?: number | string | null) => {
    throw new ProcessExit(Number(code ?? process.exitCode ?? 0))
  }) as typeof process.exit
  let restoreExit = (): void => {}
  try {
    process.chdir(options.cwd ?? repoRoot)
    // Inside the swap: oclif fixes its colours and wrap width from env and stdout when first imported,
    // and those must be the ones a binary writing to a pipe gets, not the test worker's.
    const {Config, execute, Exit} = await loadOclif()
    // A fresh Config for every run (~3 ms: the command modules themselves stay loaded). oclif assumes
    // one command per process: its help rewrites the ids of the loaded commands in place ("budget:show"
    // becomes "budget show"), and a Config reused after `understudy budget` no longer finds its commands.
    const config = await Config.load(repoRoot)
    const oclifExit = Exit.exit
    restoreExit = () => void (Exit.exit = oclifExit)
    // handle() ends the binary with Exit.exit(code) once it has printed the error; here it records the code.
    Exit.exit = ((code = 0) => {
      exitCode ??= code
    }) as typeof Exit.exit
    try {
      await execute({args, loadOptions: config})
    } catch (e) {
      // Only a process.exit from the command (or from handle() rendering its error) lands here.
      if (!(e instanceof ProcessExit)) throw e
      exitCode ??= e.code
    }
    // The binary's status: the code it exited with, else the exitCode the command left.
    exitCode ??= Number(process.exitCode ?? 0)
  } finally {
    process.chdir(saved.cwd)
    process.exit = saved.exit
    restoreExit()
    process.exitCode = saved.exitCode
    process.argv = saved.argv
    for (const [k, v] of saved.env) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
    CONSOLE.forEach((name, i) => (console[name] = saved.console[i]!))
    STREAMS.forEach((name, i) => Object.defineProperty(process, name, saved.streams[i]!))
    stdin.destroy()
  }

  const result = {code: exitCode, stdout: out.text(), stderr: err.text()}
  const leaks = await leaked(before)
  if (leaks.length > 0) {
    throw new Error(`understudy ${args.join(' ')} left behind: ${leaks.join('; ')}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  }
  return result
}

type Snapshot = {files: Map<string, string>; threads: number; signals: Map<string, number>}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** What a finished command must have given back: open files, threads, signal handlers. */
function snapshot(): Snapshot {
  const files = new Map<string, string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      // Sockets, pipes and anonymous inodes come and go with the worker's own IPC; files are the command's.
      if (target.startsWith('/') && !target.startsWith('/dev/') && !target.startsWith('/proc/')) files.set(fd, target)
    } catch {
      // closed while listing (the listing's own descriptor)
    }
  }
  return {
    files,
    threads: readdirSync('/proc/self/task').length,
    signals: new Map(SIGNALS.map((s) => [s, process.listenerCount(s)])),
  }
}

async function leaked(before: Snapshot): Promise<string[]> {
  // Closing is asynchronous (a worker's thread is joined, a file closed on the thread pool): give it a moment.
  let problems: string[] = []
  for (let attempt = 0; attempt < 20; attempt++) {
    const now = snapshot()
    problems = []
    const files = [...now.files].filter(([fd, target]) => before.files.get(fd) !== target).map(([, target]) => target)
    if (files.length > 0) problems.push(`open files ${files.join(', ')}`)
    if (now.threads > before.threads) problems.push(`${now.threads - before.threads} more threads`)
    for (const [s, n] of now.signals) if (n > before.signals.get(s)!) problems.push(`${n - before.signals.get(s)!} ${s} listeners`)
    if (problems.length === 0) return []
    await new Promise((r) => setTimeout(r, 25))
  }
  return problems
}

export type ProcessResult = CliResult & {signal: NodeJS.Signals | null}

/**
 * Runs bin/run.js in a child process, asynchronously (the worker's event loop keeps answering
 * vitest meanwhile). For what only a real process shows: signals, stdio that is a pipe rather
 * than a terminal, the exit code of the binary itself. The child is killed after `timeoutMs`.
 */
export function runCliProcess(args: string[], options: CliOptions & {timeoutMs?: number} = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: {...process.env, ...BASE_ENV, ...options.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => stdout.push(d))
    child.stderr.on('data', (d: Buffer) => stderr.push(d))
    child.stdin.on('error', () => {}) // a CLI that never reads stdin may exit before it is written
    child.stdin.end(options.input ?? '')
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code: code ?? -1, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8')})
    })
  })
}
