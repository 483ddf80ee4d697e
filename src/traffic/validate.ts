import {readTraffic} from './reader.js'

export type ValidateTrafficOptions = {
  /** Collect at most this many error messages; lines are still counted past it. Default: all. */
  maxErrors?: number
  maxLineBytes?: number
  signal?: AbortSignal
}

export type ValidateTrafficResult = {
  file: string
  /** Non-blank lines examined (valid + invalid). */
  lines: number
  valid: number
  /** Lines that failed to read or validate, plus later lines repeating an earlier request id. */
  invalid: number
  /** One-line messages `<file>:<line>: <field>: <message>`, in file order. */
  errors: string[]
  /** True when there were more errors than `maxErrors` let through. */
  errorsTruncated: boolean
  duplicateIds: number
}

/**
 * Checks every line of a traffic file against the schema and for repeated request ids (a run keys
 * its traces by request id, so a repeat would overwrite). Streams: memory is one line plus the id map.
 */
export async function validateTraffic(file: string, opts: ValidateTrafficOptions = {}): Promise<ValidateTrafficResult> {
  const maxErrors = opts.maxErrors ?? Number.POSITIVE_INFINITY
  const result: ValidateTrafficResult = {
    file,
    lines: 0,
    valid: 0,
    invalid: 0,
    errors: [],
    errorsTruncated: false,
    duplicateIds: 0,
  }
  const firstLineOf = new Map<string, number>()
  const addError = (message: string): void => {
    result.invalid++
    if (result.errors.length < maxErrors) result.errors.push(message)
    else result.errorsTruncated = true
  }

  for await (const line of readTraffic(file, {maxLineBytes: opts.maxLineBytes, signal: opts.signal})) {
    result.lines++
    const id = line.ok ? line.record.id : line.id
    // Ids of bad lines count too: a run records a skipped line under its id.
    const first = id === null ? undefined : firstLineOf.get(id)
    if (id !== null && first === undefined) firstLineOf.set(id, line.line)

    if (!line.ok) {
      addError(line.error)
    } else if (first !== undefined) {
      result.duplicateIds++
      addError(`${file}:${line.line}: id: duplicate request id ${JSON.stringify(id)} (first on line ${first})`)
    } else {
      result.valid++
    }
  }
  return result
}
