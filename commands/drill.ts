import {existsSync, mkdirSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {Args, Flags} from '@oclif/core'
import {BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {renderDrill} from '../src/drill/render.js'
import {runDrill, type DrillReport} from '../src/drill/run.js'
import {loadDrill, parseStepFlag} from '../src/drill/spec.js'
import {openStore} from '../src/store/sqlite.js'
import {UnderstudyError} from '../src/errors.js'

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

  async run(): Promise<DrillReport & {id: number; work_dir: string}> {
    const {args, flags} = await this.parse(Drill)
    const drill = loadDrill(args.scenarioDir)
    const steps = flags.step?.map(parseStepFlag)
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
    const work = path.resolve(flags.work ?? path.join(path.dirname(path.resolve(flags.db)), 'drills', `${drill.name}-${stamp}`))
    if (existsSync(work) && readdirSync(work).length > 0) throw new UnderstudyError(`${work}: not empty; pass another --work`)
    mkdirSync(work, {recursive: true})
    const env = openStore(path.join(work, 'drill.db'))
    let report: DrillReport
    try {
      report = await runDrill(drill, env, {workDir: work, steps, model: flags.model ?? null, onPhase: (p) => this.out(`· ${p}`)})
    } finally {
      env.close()
    }
    const store = openStore(flags.db)
    let id: number
    try {
      id = store.recordDrill({scenario: drill.name, started_at: report.started_at, finished_at: report.finished_at, passed: report.passed, report}).id
    } finally {
      store.close()
    }
    this.out()
    for (const line of renderDrill(report)) this.out(line)
    this.out(`  stored as drill ${id} in ${flags.db}; runs and history in ${path.join(work, 'drill.db')}`)
    if (!report.passed) process.exitCode = 1
    return {...report, id, work_dir: work}
  }
}
