import {Flags} from '@oclif/core'
import {RunCommand, runIdArg} from '../../src/cli/run-command.js'
import {ValidationError} from '../../src/errors.js'
import {parseWindow} from '../../src/rollout/history.js'
import {DEFAULT_MIN_REQUESTS, type RolloutPlan} from '../../src/rollout/plan.js'
import {renderPlan} from '../../src/rollout/render.js'
import {planRunRollout} from '../../src/rollout/score.js'
import {DEFAULT_THRESHOLDS, loadThresholds} from '../../src/scorecard/thresholds.js'

export default class RolloutPlanCommand extends RunCommand {
  static override description =
    "Recommend each tenant's next rollout stage (shadow, canary 1%, 10%, 50%, 100%) from the run's scorecard and a scorecard per tenant, naming what blocks it."

  static override examples = [
    '<%= config.bin %> rollout plan r20261125T1430',
    '<%= config.bin %> rollout plan r20261125T1430 --thresholds rollout.yaml --json',
    '<%= config.bin %> rollout plan r20261125T1430 --incident-free-window 7d',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    thresholds: Flags.string({description: 'thresholds file (YAML or JSON) overriding any of the defaults'}),
    'min-requests': Flags.string({description: "a tenant's requests in the run needed to ramp past canary", default: String(DEFAULT_MIN_REQUESTS)}),
    'incident-free-window': Flags.string({
      description: 'hold a tenant before full until the candidate has been at its stage this long (7d, 36h, 90m) with no bad mark in the incident history',
    }),
  }

  async run(): Promise<RolloutPlan> {
    const {args, flags} = await this.parse(RolloutPlanCommand)
    const minRequests = Number(flags['min-requests'])
    if (!Number.isInteger(minRequests) || minRequests < 0) throw new ValidationError([`--min-requests: expected a whole number, got "${flags['min-requests']}"`])
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : DEFAULT_THRESHOLDS
    const label = flags['incident-free-window']
    const windowMs = label === undefined ? null : parseWindow(label)
    if (label !== undefined && windowMs === null) throw new ValidationError([`--incident-free-window: expected a duration such as 7d, 36h or 90m, got "${label}"`])
    const {store, run} = this.openRun(flags.db, args.runId)
    const plan = await planRunRollout(store, run, {
      thresholds,
      minRequests,
      ...(label !== undefined && windowMs !== null ? {incidentFreeWindow: {ms: windowMs, label, nowMs: Date.now()}} : {}),
    })
    for (const line of renderPlan(run.candidate_ref, plan)) this.out(line)
    return plan
  }
}
