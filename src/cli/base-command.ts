import {Command, Flags} from '@oclif/core'
import {isUnderstudyError, ValidationError} from '../errors.js'

/**
 * Every understudy command extends this. It gives `--json` (oclif's enableJsonFlag: the value
 * `run()` returns is printed as one JSON document) and turns our typed errors into a one-line
 * message on stderr plus the error's exit code, never a stack trace.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  /** Writes a line to stdout unless --json is on (then only the returned value is printed). */
  protected out(line = ''): void {
    if (!this.jsonEnabled()) process.stdout.write(line + '\n')
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (isUnderstudyError(err)) {
      if (this.jsonEnabled()) {
        const problems = err instanceof ValidationError ? err.problems : [err.message]
        process.stdout.write(JSON.stringify({error: {message: err.message, problems}}, null, 2) + '\n')
      } else if (err instanceof ValidationError && err.problems.length > 1) {
        for (const p of err.problems) process.stderr.write(p + '\n')
        if (err.message !== err.problems[0]) process.stderr.write(err.message + '\n')
      } else {
        process.stderr.write(`understudy: ${err.message}\n`)
      }
      process.exitCode = err.exitCode
      this.exit(err.exitCode)
    }
    return super.catch(err)
  }
}

/** The trace store location shared by every command that reads or writes runs. */
export const dbFlag = Flags.string({
  description: 'SQLite trace store file',
  default: '.understudy/understudy.db',
  env: 'UNDERSTUDY_DB',
})
