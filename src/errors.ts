/**
 * Errors that reach the user. Each carries the one-line, user-facing message (naming the file,
 * line and field where there is one) and the process exit code; commands print `message` as is.
 */
export class UnderstudyError extends Error {
  readonly exitCode: number
  constructor(message: string, options: {exitCode?: number; cause?: unknown} = {}) {
    super(message, {cause: options.cause})
    this.name = new.target.name
    this.exitCode = options.exitCode ?? 1
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
    super(message, {exitCode: 2, cause: options.cause})
  }
}

/** The trace store refused to open or write (newer schema, corrupt file, locked). */
export class StoreError extends UnderstudyError {}

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

/** The model server is down, the model is missing, or the answer is malformed. */
export class ModelError extends UnderstudyError {
  readonly code: 'unreachable' | 'model_missing' | 'malformed' | 'timeout' | 'server_error' | 'cassette_miss'
  constructor(code: ModelError['code'], message: string, options: {cause?: unknown} = {}) {
    super(message, options)
    this.code = code
  }
}

export function isUnderstudyError(e: unknown): e is UnderstudyError {
  return e instanceof UnderstudyError
}
