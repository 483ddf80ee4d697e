import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {drillStore, runDrillInWorkDir, type StoredDrill} from '../src/drill/in-work-dir.js'
import {renderDrill} from '../src/drill/render.js'
import {loadDrill, parseStepFlag} from '../src/drill/spec.js'

export default class Drill extends BaseCommand {
  static override description =
    'Run a scripted incident drill: ship the bad bundle, detect the harm in shadow, apply the operator steps, replay, and pass only when the harm is gone and the golden tasks still pass.'

  static override examples = [
    '<%= config.bin %> drill scenarios/drill-refund-regression',
    '<%= config.bin %> drill scenarios/drill-injection-email --step degrade:draft_only',
    '<%= config.bin %> drill scenarios/drill-injection-email --work /tmp/drill --json',
  ]

  static override args = {scenarioDir: Args.string({description: 'drill scenario directory (with drill.yaml)', required: true})}

  static override flags = {
    db: dbFlag,
    step: Flags.string({
      description: 'operator step replacing the drill file\'s steps (repeatable, in order): kill-switch:<tool>[,<tool>], degrade:read_only|draft_only, rollback:last-known-good|<dir>',
      multiple: true,
    }),
    work: Flags.string({description: "the drill's own directory: its trace store (runs, history) and the mitigated bundle (must not exist or be empty)"}),
    model: Flags.string({description: 'model for the shadow runs (default: each bundle\'s own)'}),
  }

  async run(): Promise<StoredDrill> {
    const {args, flags} = await this.parse(Drill)
    const drill = loadDrill(args.scenarioDir)
    const steps = flags.step?.map(parseStepFlag)
    const result = await runDrillInWorkDir(drill, {db: flags.db, work: flags.work, steps, model: flags.model ?? null, onPhase: (p) => this.out(`· ${p}`)})
    this.out()
    for (const line of renderDrill(result)) this.out(line)
    this.out(`  stored as drill ${result.id} in ${flags.db}; runs and history in ${drillStore(result.work_dir)}`)
    if (!result.passed) process.exitCode = 1
    return result
  }
}
