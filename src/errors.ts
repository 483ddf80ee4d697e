/**
 * The exit statuses of every command (README "Exit codes"): CI tells "the candidate is bad"
 * (GATE_FAILED) from "the job broke" (ERROR) and "the command line is wrong" (USAGE).
 */
export const EXIT = {ok: 0, error: 1, usage: 2, gateFailed: 3, interrupted: 130} as const

/**
 * Errors that reach the user. Each carries the one-line, user-facing message (naming the file,
 * line and field where there is one) and the process exit code; commands print `message` as is.
 */
export class UnderstudyError extends Error {
  readonly exitCode: number
  constructor(message: string, options: {exitCode?: number; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? EXIT.error
  }
}

/** Input that does not validate: a bundle, a traffic line, a flag value. */
export class ValidationError extends UnderstudyError {
  /** Every problem, each already formatted as `file:location: message`. */
  readonly problems: string[]
  constructor(problems: string[], summary?: string) {
    super(summary ?? problems[0] ?? 'validation failed')
    this.problems = problems
  }
}

/**
 * The command line itself is wrong: a missing argument or required flag, an unknown flag, a flag
 * value that does not parse, an extra argument. Exit code 2, as is conventional for usage errors.
 */
export class UsageError extends UnderstudyError {
  constructor(message: string, options: {cause?: unknown} = {}) {
    super(message, {exitCode: EXIT.usage, cause: options.cause})
  }
}

/**
 * Writing a file failed: a short write, a full disk, a rename refused. Whoever throws it has left
 * what was there before intact (see src/util/atomic-write.ts); `errno` is the system's code.
 */
export class FileWriteError extends UnderstudyError {
  readonly errno: string
  constructor(file: string, cause: unknown, what = `${file}: cannot write`) {
    const errno = (cause as {code?: unknown} | null)?.code
    const code = typeof errno === 'string' ? errno : 'EIO'
    super(`${what} (${code}${describeErrno(code)}); nothing was written, the file is as it was`, {cause})
    this.errno = code
  }
}

function describeErrno(code: string): string {
  const words: Record<string, string> = {ENOSPC: ': no space left on device', EDQUOT: ': disk quota exceeded', EIO: ': input/output error', EACCES: ': permission denied', EROFS: ': read-only file system'}
  return words[code] ?? ''
}

/** The trace store refused to open or write (newer schema, corrupt file, locked, full). */
export class StoreError extends UnderstudyError {
  /** SQLite's error code when the driver gave one (`SQLITE_FULL`, `SQLITE_BUSY`…). */
  readonly sqliteCode: string | null
  constructor(message: string, options: {cause?: unknown; exitCode?: number; sqliteCode?: string | null} = {}) {
    super(message, {cause: options.cause, exitCode: options.exitCode})
    const fromCause = (options.cause as {code?: unknown} | null | undefined)?.code
    this.sqliteCode = options.sqliteCode ?? (typeof fromCause === 'string' && fromCause.startsWith('SQLITE_') ? fromCause : null)
  }

  /** The database or the disk under it is full: nothing stored is lost, more cannot be stored. */
  get full(): boolean {
    return this.sqliteCode === 'SQLITE_FULL'
  }
}

/**
 * Another live process is writing the run (see src/store/run-writer.ts): a run has one writer at a
 * time, so the second one refuses before it reads or changes anything.
 */
export class RunBusyError extends UnderstudyError {
  readonly runId: string
  readonly pid: number
  /** The writer's host name, or null when it is this host. */
  readonly host: string | null
  constructor(runId: string, pid: number, host: string | null) {
    super(`run ${runId} is being written by process ${pid} ${host === null ? 'on this host' : `on host ${host}`}; wait for it or stop it`)
    this.runId = runId
    this.pid = pid
    this.host = host
  }
}

/**
 * The model server is down, the model is missing, the answer is malformed, or larger than the
 * bundle accepts (`too_large`: model.max_answer_bytes).
 */
export class ModelError extends UnderstudyError {
  readonly code: 'unreachable' | 'model_missing' | 'malformed' | 'timeout' | 'server_error' | 'cassette_miss' | 'too_large' | 'truncated' | 'unsupported'
  constructor(code: ModelError['code'], message: string, options: {cause?: unknown} = {}) {
    super(message, options)
    this.code = code
  }
}

export function isUnderstudyError(e: unknown): e is UnderstudyError {
  return e instanceof UnderstudyError
}
