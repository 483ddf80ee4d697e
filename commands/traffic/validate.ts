import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {validateSummaryLine, validateTraffic, type ValidateTrafficResult} from '../../src/traffic/validate.js'

export default class TrafficValidate extends BaseCommand {
  static override description =
    'Check every line of a recorded traffic file (JSONL) against the traffic schema and for repeated request ids. Exits 1 if any line is invalid.'

  static override examples = [
    '<%= config.bin %> traffic validate scenarios/support-refunds/traffic.jsonl',
    '<%= config.bin %> traffic validate traffic.jsonl --max-errors 20',
    '<%= config.bin %> traffic validate traffic.jsonl --json',
  ]

  static override args = {
    file: Args.string({description: 'traffic file, one JSON request per line', required: true}),
  }

  static override flags = {
    'max-errors': Flags.integer({
      description:
        'list at most N problems; counts problems, not lines (a line with three bad fields is three), in text and --json alike; the rest are still counted',
      min: 0,
    }),
  }

  async run(): Promise<ValidateTrafficResult> {
    const {args, flags} = await this.parse(TrafficValidate)
    const result = await validateTraffic(args.file, {maxErrors: flags['max-errors']})
    if (!this.jsonEnabled()) {
      for (const e of result.errors) this.err(e)
    }
    this.out(validateSummaryLine(result, flags['max-errors']))
    // Set, not thrown: --json still prints the full result, and the exit status still says "invalid".
    if (result.invalid > 0) process.exitCode = 1
    return result
  }
}
