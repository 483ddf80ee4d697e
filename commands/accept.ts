import {Flags} from '@oclif/core'
import {acceptedFlag} from '../src/cli/base-command.js'
import {RunCommand, runIdArg} from '../src/cli/run-command.js'
import {ACCEPTED_FILE, type AcceptedEntry} from '../src/diff/accepted.js'
import {describeSignature, matchesCause} from '../src/diff/cause.js'
import {UnderstudyError, UsageError} from '../src/errors.js'
import {addAccepted} from '../src/runs/accepted-file.js'
import {listCauses} from '../src/runs/diff-list.js'

export default class Accept extends RunCommand {
  static override description =
    'Accept a cause of difference after review: it is added, with who, when and why, to the accepted-differences file that diff, report, scorecard --gate and shadow --gate honour (accepted requests are shown as accepted, not as their class, and do not fail a gate).'

  static override examples = [
    '<%= config.bin %> accept r20261125T1430 --cause 3f9a1c0b2e --by alice --reason "refund cap lowered on purpose (PRD-118)"',
    '<%= config.bin %> accept r20261125T1430 --cause 3f9a --by alice --reason "new wording" --accepted review/accepted.yaml',
  ]

  static override args = {runId: runIdArg}

  static override flags = {
    cause: Flags.string({description: 'the cause id (or a unique prefix of at least 4 digits), as `diff --by cause` prints it', required: true}),
    by: Flags.string({description: 'who accepts it', required: true}),
    reason: Flags.string({description: 'why it is accepted', required: true}),
    accepted: {...acceptedFlag, description: `the file to add to (created when absent; default ./${ACCEPTED_FILE})`},
  }

  async run(): Promise<{file: string; entry: AcceptedEntry; requests: number}> {
    const {args, flags} = await this.parse(Accept)
    if (!/^[0-9a-f]{4,}$/i.test(flags.cause)) throw new UsageError(`--cause: "${flags.cause}" is not a cause id (at least 4 hex digits, as \`understudy diff <run> --by cause\` prints them)`)
    const {store, run} = this.openRun(flags.db, args.runId)
    const {groups} = await listCauses(store, run, 'changes')
    const found = groups.filter((g) => matchesCause(g.cause, flags.cause))
    if (found.length === 0) throw new UnderstudyError(`run ${run.id} has no request of cause ${flags.cause}; \`understudy diff ${run.id} --by cause\` lists its causes`)
    if (found.length > 1) throw new UnderstudyError(`cause ${flags.cause} is ambiguous in run ${run.id}: ${found.map((g) => g.cause).join(', ')}`)
    const g = found[0]!
    const entry: AcceptedEntry = {
      cause: g.cause,
      by: flags.by,
      at: new Date().toISOString(),
      reason: flags.reason,
      class: g.class,
      description: describeSignature(g.signature),
      run: run.id,
    }
    const file = flags.accepted ?? ACCEPTED_FILE
    addAccepted(file, entry)
    this.out(`accepted cause ${g.cause} (${g.class}, ${g.requests} request${g.requests === 1 ? '' : 's'} in run ${run.id}) in ${file}`)
    return {file, entry, requests: g.requests}
  }
}
