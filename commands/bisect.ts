import {Flags} from '@oclif/core'
import {type BisectResult, bisectRun} from '../src/bisect/bisect.js'
import {renderBisect} from '../src/bisect/render.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'

export default class Bisect extends RunCommand {
  static override summary = 'Find which part of the bundle change caused each cause group of a run.'
  static override description = `The bundle diff between the run's baseline and candidate is cut into atomic changes (each prompt hunk, tool-contract field, policy rule, budget, guardrail and model setting). For each cause group (\`understudy diff <run> --by cause\`), delta debugging replays the group's requests with hybrid bundles (the baseline with a subset of the changes) through the run's own runtime and model settings, down to the smallest subset that still gives the group's cause; that subset is then replayed alone over the whole group to verify it. Changes that only act together are reported as an interaction. Model answers are reused from the store's model-call cache wherever a request is byte-identical to one already answered.`

  static override examples = [
    '<%= config.bin %> bisect r20261125T1430',
    '<%= config.bin %> bisect r20261125T1430 --cause 3f9a1c0b2e --json',
    '<%= config.bin %> bisect r20261125T1430 --baseline scenarios/support-refunds/v1',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    baseline: Flags.string({description: 'the baseline bundle directory, for a run compared with what production recorded (the bundle production ran)'}),
    cause: Flags.string({description: 'bisect only this cause group (id or a prefix of at least 4 digits)'}),
    class: Flags.string({
      description: 'bisect only groups of this class (repeatable; default: all but same)',
      options: ['regression', 'behaviour_change', 'improvement', 'benign'],
      multiple: true,
    }),
    sample: Flags.integer({description: 'requests of each group the search replays (the verifying replay takes them all)', default: 8, min: 1}),
    concurrency: Flags.integer({description: 'requests replayed at once (default: the run\'s)', min: 1, max: 256}),
  }

  async run(): Promise<{attributions: BisectResult['attributions']} & BisectResult> {
    const {args, flags} = await this.parse(Bisect)
    // Writable: model answers go into the store's model-call cache.
    const {store, run} = this.openRun(flags.db, args.runId, {readonly: false})
    const result = await bisectRun(store, run, {
      baseline: flags.baseline,
      cause: flags.cause,
      classes: flags.class as ('regression' | 'behaviour_change' | 'improvement' | 'benign')[] | undefined,
      sample: flags.sample,
      concurrency: flags.concurrency,
      onStep: this.jsonEnabled() ? undefined : (text) => this.logToStderr(text),
    })
    this.write(renderBisect(result))
    return result
  }
}
