import {existsSync, statSync} from 'node:fs'
import path from 'node:path'
import {isMap, isPair, isSeq, parseDocument} from 'yaml'
import type {z} from 'zod'
import {UnderstudyError, ValidationError} from '../errors.js'
import {findJsonSyntaxError} from './json-error.js'
import {jsonTooDeepAt, MAX_NESTING, tooDeepMessage} from './nesting.js'
import {pathLocator} from './path-position.js'
import {NotRegularFileError, notRegular, readRegularFileSync} from './regular-file.js'
import {problem, zodProblems} from './zod-problems.js'

/**
 * The one loader of configuration files (bundle manifests, scenario.yaml, drill.yaml, fixtures,
 * scorecard thresholds): read, parse as YAML or JSON (by file name), validate with a zod schema,
 * resolve paths relative to the file. Every problem is located: a syntax error as
 * `file:LINE:COL: message`, a schema or path problem as `file:path.to.field: message`, a file
 * that cannot be read as `file: cannot read <what> (CODE)`.
 */

export type ParsedText = {ok: true; value: unknown} | {ok: false; problems: string[]}

/** The config file `target` names: `target` itself, or `name` inside it when it is a directory. */
export function configFileIn(target: string, name: string, what: string): string {
  const abs = path.resolve(target)
  if (!existsSync(abs)) throw new UnderstudyError(`${target}: no such ${what} directory or file`)
  return statSync(abs).isDirectory() ? path.join(abs, name) : abs
}

/**
 * The file's text (UTF-8); one line naming the file and what it was meant to be when it cannot be
 * read. Only a regular file is read (src/util/regular-file.ts): a named pipe fails at once.
 */
export function readConfigText(file: string, what: string): string {
  try {
    return readRegularFileSync(file)
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new UnderstudyError(`${file}: cannot read ${what}: ${e.reason}`, {cause: e})
    throw new UnderstudyError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {cause: e})
  }
}

/**
 * Parses config text (YAML, or JSON for a `.json` file; a leading BOM is ignored). Syntax errors
 * come back as `file:LINE:COL: message`, every one the parser found, rather than as a throw.
 */
export function parseConfigText(file: string, text: string): ParsedText {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  return /\.json$/i.test(file) ? parseJson(file, body) : parseYaml(file, body)
}

/**
 * Reads, parses and validates a config file: the schema's output, or a ValidationError listing
 * every problem. An empty document is `empty` (by default `{}`, so a schema's defaults apply).
 */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S, opts: {what: string; empty?: unknown}): z.output<S> {
  return parseConfigFile(file, readConfigText(file, opts.what), schema, opts)
}

/** loadConfigFile over text already read. */
export function parseConfigFile<S extends z.ZodType>(file: string, text: string, schema: S, opts: {empty?: unknown} = {}): z.output<S> {
  const parsed = parseConfigText(file, text)
  if (!parsed.ok) throw new ValidationError(parsed.problems)
  const value = parsed.value ?? opts.empty ?? {}
  const result = schema.safeParse(value)
  if (!result.success) throw new ValidationError(zodProblems(file, result.error.issues, value, pathLocator(text)))
  return result.data
}

/**
 * Resolves paths a config file names, relative to the file's directory, and collects a located
 * problem for each that is missing or of the wrong kind; `check()` throws them all at once, so one
 * run reports every bad path.
 */
export class ConfigPaths {
  readonly dir: string
  private readonly problems: string[] = []

  constructor(private readonly file: string) {
    this.dir = path.dirname(path.resolve(file))
  }

  /** The absolute path of `rel`; `kind` is what must be there (`any`: a file or a directory). */
  resolve(field: readonly (string | number)[], rel: string, kind: 'file' | 'dir' | 'any'): string {
    const abs = path.resolve(this.dir, rel)
    if (!existsSync(abs)) this.problems.push(problem(this.file, field, `${rel} does not exist (resolved to ${abs})`))
    else if (kind === 'file' && statSync(abs).isDirectory()) this.problems.push(problem(this.file, field, `${rel} is a directory, expected a file`))
    else if (kind === 'file' && notRegular(statSync(abs)) !== null) this.problems.push(problem(this.file, field, `${rel} ${notRegular(statSync(abs))}`))
    else if (kind === 'dir' && !statSync(abs).isDirectory()) this.problems.push(problem(this.file, field, `${rel} is not a directory`))
    return abs
  }

  /** Another problem of the file, reported with the path problems. */
  add(field: readonly (string | number)[], message: string): void {
    this.problems.push(problem(this.file, field, message))
  }

  check(): void {
    if (this.problems.length > 0) throw new ValidationError(this.problems)
  }
}

/** Aliases one alias may expand to: a "billion laughs" document nests aliases of aliases to exhaust memory. */
const MAX_ALIAS_COUNT = 100

function parseYaml(file: string, text: string): ParsedText {
  // prettyErrors off: its messages carry a multi-line source excerpt; we want one line each.
  let doc: ReturnType<typeof parseDocument>
  try {
    doc = parseDocument(text, {prettyErrors: false, uniqueKeys: true})
  } catch (e) {
    return {ok: false, problems: [`${file}: ${libraryError(e)}`]}
  }
  if (doc.errors.length > 0) {
    // Past the parser's stack every later error is an echo of that one: say it once.
    const overflow = doc.errors.find((e) => libraryError(e) === tooDeepMessage())
    return {
      ok: false,
      problems: (overflow ? [overflow] : doc.errors).map((e) => `${file}:${lineCol(text, e.pos[0])}: ${libraryError(e)}`),
    }
  }
  const deepAt = yamlTooDeepAt(doc.contents)
  if (deepAt >= 0) return {ok: false, problems: [`${file}:${lineCol(text, deepAt)}: ${tooDeepMessage()}`]}
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: MAX_ALIAS_COUNT})
  } catch (e) {
    // The yaml library says "Excessive alias count indicates a resource exhaustion attack".
    const why = e instanceof ReferenceError && /alias/i.test(e.message) ? `YAML aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} for one alias, as in a "billion laughs" document); refused` : libraryError(e)
    return {ok: false, problems: [`${file}: ${why}`]}
  }
  // Aliases nested in aliases can still build a value deeper than any node of the document.
  if (valueTooDeep(value)) return {ok: false, problems: [`${file}: ${tooDeepMessage()}`]}
  return {ok: true, value}
}

/** A library's error as one line; running out of stack is said as what it means here. */
function libraryError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e)
  if (e instanceof RangeError || /Maximum call stack size exceeded/.test(message)) return tooDeepMessage()
  return message.split('\n')[0]!
}

/** The offset of the first YAML collection nested deeper than MAX_NESTING, or -1 (iterative). */
function yamlTooDeepAt(root: unknown): number {
  const stack: [unknown, number][] = [[root, 0]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!
    if (isMap(node) || isSeq(node)) {
      if (depth + 1 > MAX_NESTING) return node.range?.[0] ?? 0
      for (const item of node.items) stack.push([item, depth + 1])
    } else if (isPair(node)) {
      stack.push([node.key, depth], [node.value, depth])
    }
  }
  return -1
}

/** Whether arrays and objects in `value` nest deeper than MAX_NESTING (iterative). */
function valueTooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (depth + 1 > MAX_NESTING) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

function parseJson(file: string, text: string): ParsedText {
  try {
    const value: unknown = JSON.parse(text)
    const deepAt = jsonTooDeepAt(text)
    if (deepAt >= 0) return {ok: false, problems: [`${file}:${lineCol(text, deepAt)}: ${tooDeepMessage()}`]}
    return {ok: true, value}
  } catch (e) {
    // V8's messages give a position for some errors and not others; the grammar walk always does.
    const where = findJsonSyntaxError(text)?.index ?? text.length
    // V8 sometimes quotes the whole input in the message; the location already says where.
    const message = (e as Error).message.replace(/,? ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '')
    return {ok: false, problems: [`${file}:${lineCol(text, where)}: ${message}`]}
  }
}

/** `LINE:COL` (both 1-based) of a character offset. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const lines = before.split('\n')
  return `${lines.length}:${(lines.at(-1)?.length ?? 0) + 1}`
}
