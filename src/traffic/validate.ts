import {formatProblem, readTraffic, type TrafficProblem} from './reader.js'

export type ValidateTrafficOptions = {
  /** List at most this many problems (not lines); every problem is still counted. Default: all. */
  maxErrors?: number
  maxLineBytes?: number
  signal?: AbortSignal
}

/** One problem of one line; a line with several problems gives several of these. */
export type LineProblem = TrafficProblem & {line: number}

export type ValidateTrafficResult = {
  file: string
  /** Non-blank lines examined (valid + invalid). */
  lines: number
  valid: number
  /** Lines that failed to read or validate, plus later lines repeating an earlier request id. */
  invalid: number
  /** Every problem found, listed or not; at least `invalid`, more when a line has several. */
  problemCount: number
  /** The listed problems (the first `maxErrors`), in file order and, within a line, in the order found. */
  problems: LineProblem[]
  /** The same problems as `problems`, each as one line `<file>:<line>: <field>: <message>`. */
  errors: string[]
  /** True when there were more problems than `maxErrors` let through. */
  errorsTruncated: boolean
  duplicateIds: number
}

/**
 * Checks every line of a traffic file against the schema and for repeated request ids (a run keys
 * its traces by request id, so a repeat would overwrite). Streams: memory is one line plus the id map
 * plus the listed problems.
 */
export async function validateTraffic(file: string, opts: ValidateTrafficOptions = {}): Promise<ValidateTrafficResult> {
  const maxErrors = opts.maxErrors ?? Number.POSITIVE_INFINITY
  const result: ValidateTrafficResult = {
    file,
    lines: 0,
    valid: 0,
    invalid: 0,
    problemCount: 0,
    problems: [],
    errors: [],
    errorsTruncated: false,
    duplicateIds: 0,
  }
  const firstLineOf = new Map<string, number>()
  const addProblems = (line: number, problems: TrafficProblem[]): void => {
    result.invalid++
    for (const p of problems) {
      result.problemCount++
      if (result.problems.length < maxErrors) {
        result.problems.push({line, field: p.field, message: p.message})
        result.errors.push(formatProblem(file, line, p))
      } else {
        result.errorsTruncated = true
      }
    }
  }

  for await (const line of readTraffic(file, {maxLineBytes: opts.maxLineBytes, signal: opts.signal})) {
    result.lines++
    const id = line.ok ? line.record.id : line.id
    // Ids of bad lines count too: a run records a skipped line under its id.
    const first = id === null ? undefined : firstLineOf.get(id)
    if (id !== null && first === undefined) firstLineOf.set(id, line.line)

    if (!line.ok) {
      addProblems(line.line, line.problems)
    } else if (first !== undefined) {
      result.duplicateIds++
      addProblems(line.line, [{field: 'id', message: `duplicate request id ${JSON.stringify(id)} (first on line ${first})`}])
    } else {
      result.valid++
    }
  }
  return result
}

/** The line `traffic validate` ends with: counts of lines and problems, and how many problems were listed. */
export function validateSummaryLine(r: ValidateTrafficResult, maxErrors: number | undefined): string {
  let line = `${r.file}: ${r.lines} lines, ${r.valid} valid, ${r.invalid} invalid`
  if (r.problemCount === 0) return line
  const problems = `${r.problemCount} problem${r.problemCount === 1 ? '' : 's'}`
  line += r.errorsTruncated ? `; showing first ${r.errors.length} of ${problems} (--max-errors ${maxErrors})` : `, ${problems}`
  return line
}
