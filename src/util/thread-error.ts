import {ModelError, StoreError, UnderstudyError, ValidationError} from '../errors.js'

/**
 * An error as it crosses from a worker thread (a structured clone keeps no class): its class name,
 * message and the fields the receiving side reads — the exit code, a ValidationError's problems, a
 * ModelError's code (which tells a resumable stop), a StoreError's SQLite code (a full store) — and
 * the stack of anything else, which is a bug.
 */
export type SentError = {
  name: string
  message: string
  exitCode?: number
  problems?: string[]
  code?: string
  sqliteCode?: string | null
  stack?: string
}

/** `e` as it can be posted to another thread (sendable) and rebuilt there (rebuilt). */
export function sendable(e: unknown): SentError {
  if (!(e instanceof Error)) return {name: 'Error', message: String(e)}
  const out: SentError = {name: e.name, message: e.message, ...(e.stack === undefined ? {} : {stack: e.stack})}
  if (e instanceof UnderstudyError) out.exitCode = e.exitCode
  if (e instanceof ValidationError) out.problems = e.problems
  if (e instanceof ModelError) out.code = e.code
  if (e instanceof StoreError) out.sqliteCode = e.sqliteCode
  return out
}

/** The error a thread sent, as the class it was thrown as where a receiver tells them apart. */
export function rebuilt(e: SentError): Error {
  let out: Error
  if (e.name === 'ValidationError') out = new ValidationError(e.problems ?? [e.message], e.message)
  else if (e.name === 'ModelError') out = new ModelError(e.code as ModelError['code'], e.message)
  else if (e.name === 'StoreError') out = new StoreError(e.message, {sqliteCode: e.sqliteCode ?? null, ...(e.exitCode === undefined ? {} : {exitCode: e.exitCode})})
  else if (e.exitCode !== undefined) out = new UnderstudyError(e.message, {exitCode: e.exitCode})
  else out = new Error(e.message)
  if (e.stack !== undefined) out.stack = e.stack
  return out
}

