import {Command, Flags, type Interfaces, ux} from '@oclif/core'
import {EXIT, isUnderstudyError, UsageError, ValidationError} from '../errors.js'
import type {GateVerdict} from '../util/gate.js'
import {terminalText} from '../util/terminal-text.js'
import {colourWanted} from './colour.js'

/**
 * Every understudy command extends this. It gives `--json` (oclif's enableJsonFlag: the value
 * `run()` returns is printed as one JSON document) and turns our typed errors into a one-line
 * message on stderr plus the error's exit code, never a stack trace. Errors from parsing the
 * command line become a UsageError, so they take the same path: oclif's own rendering of them
 * prints the usage text, and under --json serialises the whole parser context (config included).
 *
 * Everything a command prints goes through `out`, `write`, `err` or the JSON document, and each of
 * them passes it through `terminalText` (src/util/terminal-text.ts): no escape sequence, C1 or bidi
 * control from data reaches a terminal, whatever the renderer forgot. Commands never write to
 * process.stdout or process.stderr themselves (test/adversarial checks that).
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  /** Writes a line to stdout unless --json is on (then only the returned value is printed). */
  protected out(line = '', opts: {painted?: boolean} = {}): void {
    this.write(line + '\n', opts)
  }

  /**
   * Writes text as is (no newline added) to stdout unless --json is on. `painted`: the text holds
   * colour this program added, and its renderer escaped the data in it; its SGR sequences are kept
   * when colour is wanted. Anything else a terminal would act on is shown escaped.
   */
  protected write(text: string, opts: {painted?: boolean} = {}): void {
    if (!this.jsonEnabled()) process.stdout.write(terminalText(text, {lineBreaks: true, sgr: opts.painted === true && this.colour()}))
  }

  /** Writes a line to stderr, even under --json (warnings, notes, gate failures); never coloured. */
  protected err(line: string): void {
    process.stderr.write(terminalText(line, {lineBreaks: true}) + '\n')
  }

  /**
   * The end of a `--gate` command. With the gate on: a failed verdict's lines go to stderr and the
   * exit status is EXIT.gateFailed (3, never 1, which is an error: CI must tell a bad candidate from
   * a broken job), set rather than exit(), which would drop the --json document CI may want to
   * keep; a passed one prints its line. With the gate off, nothing.
   */
  protected gate(enabled: boolean, verdict: GateVerdict): void {
    if (!enabled) return
    if (verdict.passed) {
      this.out(verdict.passedLine)
      return
    }
    for (const line of verdict.failures) this.err(line)
    process.exitCode = EXIT.gateFailed
  }

  /** Whether to write ANSI colour to `stream` (stdout by default): see src/cli/colour.ts. */
  protected colour(stream: {isTTY?: boolean} = process.stdout): boolean {
    return colourWanted(stream)
  }

  /** The --json document, with the controls JSON leaves raw (DEL, C1, bidi) written as JSON escapes: the same value, nothing a terminal acts on. */
  override logJson(json: unknown): void {
    ux.stdout(terminalText(ux.colorizeJson(json, {pretty: true}), {lineBreaks: true}))
  }

  // biome-ignore lint/suspicious/noExplicitAny: the same type parameters as oclif's Command.parse, which this overrides
  protected override async parse<F extends Interfaces.OutputFlags<any>, B extends Interfaces.OutputFlags<any>, A extends Interfaces.OutputArgs<any>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (e) {
      if (isUnderstudyError(e)) throw e
      throw new UsageError(`${usageMessage(e)}; see \`${this.config.bin} ${(this.id ?? '').replaceAll(':', ' ')} --help\``, {cause: e})
    }
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (isUnderstudyError(err)) {
      if (this.jsonEnabled()) {
        const problems = err instanceof ValidationError ? err.problems : [err.message]
        const code = err instanceof UsageError ? {code: 'usage'} : {}
        process.stdout.write(terminalText(JSON.stringify({error: {message: err.message, ...code, problems}}, null, 2), {lineBreaks: true}) + '\n')
      } else if (err instanceof ValidationError && err.problems.length > 1) {
        for (const p of err.problems) this.err(p)
        if (err.message !== err.problems[0]) this.err(err.message)
      } else {
        this.err(`understudy: ${err.message}`)
      }
      process.exitCode = err.exitCode
      this.exit(err.exitCode)
    }
    return super.catch(err)
  }
}

/**
 * One line from an oclif parse error. Its messages span lines (a table of missing arguments, a
 * "See more help" trailer, a "Parsing --flag" header, dim ANSI codes); the fields the parser's
 * error classes carry (`args`, `flags`) give the short form where they exist.
 */
function usageMessage(e: unknown): string {
  const err = e as {message?: unknown; args?: unknown; flags?: unknown}
  const list = (xs: string[]): string => xs.join(', ')
  if (Array.isArray(err.args) && err.args.length > 0) {
    const named = err.args.filter((a): a is {name: string; description?: string} => typeof (a as {name?: unknown})?.name === 'string')
    if (named.length === err.args.length) {
      const each = named.map((a) => (a.description ? `${a.name.toUpperCase()} (${a.description})` : a.name.toUpperCase()))
      return `missing argument${named.length === 1 ? '' : 's'} ${list(each)}`
    }
    return `unexpected argument${err.args.length === 1 ? '' : 's'} ${list(err.args.map(String))}`
  }
  if (Array.isArray(err.flags) && err.flags.length > 0) return `unknown flag${err.flags.length === 1 ? '' : 's'} ${list(err.flags.map(String))}`
  const raw = typeof err.message === 'string' ? err.message : String(e)
  const lines = raw
    .replace(/\u001b\[[0-9;]*m/g, '')
    .replace(/^Parsing (--\S+)\s*\n\s*([A-Z](?=[a-z]))?/, (_m, flag: string, cap?: string) => `${flag}: ${cap?.toLowerCase() ?? ''}`)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with --help$/.test(l) && !/^The following errors? occurred:$/.test(l))
    .map((l) => l.replace(/^Missing required flag (\w[\w-]*)$/, 'missing required flag --$1'))
  const message = lines.join('; ') || 'invalid command line'
  return /^[A-Z][a-z]/.test(message) ? message[0]!.toLowerCase() + message.slice(1) : message
}

/** The trace store location shared by every command that reads or writes runs. */
export const dbFlag = Flags.string({
  description: 'SQLite trace store file',
  default: '.understudy/understudy.db',
  env: 'UNDERSTUDY_DB',
})

/**
 * The accepted-differences file (src/diff/accepted.ts) of the commands that judge a run; without
 * it, `understudy.accepted.yaml` in the working directory when there is one.
 */
export const acceptedFlag = Flags.string({
  description: 'accepted-differences file (YAML): causes a reviewer accepted count as accepted, not as their class (default: ./understudy.accepted.yaml when present)',
  env: 'UNDERSTUDY_ACCEPTED',
})
