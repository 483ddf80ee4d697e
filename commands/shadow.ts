import {Args, Flags} from '@oclif/core'
import {acceptedFlag, BaseCommand, dbFlag} from '../src/cli/base-command.js'
import {resolveAccepted} from '../src/runs/accepted-file.js'
import {EXIT, UnderstudyError} from '../src/errors.js'
import {loadThresholds} from '../src/scorecard/thresholds.js'
import {resolveShadowInput} from '../src/shadow/inputs.js'
import {createReporter} from '../src/shadow/reporter.js'
import {resumeShadow, type ShadowResult, type SkippedLine, skippedLineProblems, startShadow} from '../src/shadow/run.js'
import {renderShadowSummary, shadowSummary, withResumeHint, type ShadowSummary} from '../src/shadow/summary.js'
import {openStore} from '../src/store/sqlite.js'

export default class Shadow extends BaseCommand {
  static override summary = 'Replay recorded traffic through a candidate bundle in shadow mode.'
  static override description = `Every recorded request runs through the candidate bundle (and a baseline bundle, or what production recorded) as an explicit retrieve → plan → act → observe → decide state machine, with guardrails, the policy engine, budgets and sandboxed mock tools. Every step, tool call, policy decision, token and cost is stored in the SQLite trace store, secrets redacted. Nothing real is ever called.

Ctrl-C stops cleanly after the requests in flight; the run can then be finished with --resume.`

  static override examples = [
    '<%= config.bin %> shadow --scenario scenarios/support-refunds',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2 --skill skills/support.js',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2 --baseline bundles/v1 --repeat 2',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2 --model ollama:llama3.1:8b --ollama-host http://127.0.0.1:11434',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2 --faults timeouts=0.05,rate_limit=0.02,partial_write=0.01',
    '<%= config.bin %> shadow traffic.jsonl --candidate bundles/v2 --shard 2/4 --db shards/2.db',
    '<%= config.bin %> shadow --resume r20261125T143012-3fa9c1',
    '<%= config.bin %> shadow --scenario scenarios/retail-orders --gate --thresholds rollout.yaml',
  ]

  static override args = {
    traffic: Args.string({description: 'recorded traffic (JSONL); optional with --scenario or --resume'}),
  }

  static override flags = {
    scenario: Flags.string({description: 'scenario directory (scenario.yaml names traffic, bundles, fixtures); flags override it'}),
    candidate: Flags.string({description: 'candidate bundle directory'}),
    baseline: Flags.string({description: '`recorded` (what production did, the default), a baseline bundle directory, or `scenario` (the --scenario baseline)'}),
    model: Flags.string({description: 'scripted | scripted:<name> | ollama:<name> (default: each bundle\'s own model)'}),
    skill: Flags.string({description: 'skill module for the scripted model (repeatable, asked in order); replaces the scenario\'s skill', multiple: true}),
    'ollama-host': Flags.string({description: 'Ollama server URL (default: $OLLAMA_HOST or http://127.0.0.1:11434); several, comma-separated (a,b,c): each model call goes to the least busy, a failing one is taken out and its calls retried on another'}),
    concurrency: Flags.integer({description: 'requests in flight at once (a model server\'s calls overlap; an in-process model replays one at a time per thread)', min: 1, max: 256}),
    threads: Flags.integer({
      description:
        'replay threads for models that answer in-process (scripted, recorded, compromised): 1 replays on the main thread; default one per CPU but one (at most 4) for 20,000 lines or more on 4+ CPUs. The stored traces are the same whatever the number',
      min: 1,
      max: 64,
    }),
    repeat: Flags.integer({description: 'run each side N times; differences between repeats are noise, not regressions', min: 1, max: 10}),
    faults: Flags.string({description: 'seeded fault injection, e.g. timeouts=0.05,rate_limit=0.02,partial_write=0.01'}),
    seed: Flags.integer({description: 'seed for fault injection'}),
    approver: Flags.string({description: 'simulated approver for require_approval actions', options: ['approve', 'deny', 'pending']}),
    fixtures: Flags.string({description: 'fixtures file answering tool calls production never made'}),
    'record-cassette': Flags.string({description: 'record every model exchange to this cassette (JSONL)'}),
    'replay-cassette': Flags.string({description: 'answer every model call from this cassette; a miss fails the run'}),
    'run-name': Flags.string({description: 'a name for the run'}),
    limit: Flags.integer({description: 'replay only the first N requests', min: 1}),
    strict: Flags.boolean({
      description:
        'stop (exit 1, the run failed) at the first traffic line that would be skipped, naming its file:line: field; without it every skipped line is listed on stderr and kept out of every figure',
    }),
    'model-cache': Flags.string({
      description:
        'reuse stored answers to byte-identical model requests (Ollama): auto (requests at temperature 0, the default), always (sampling temperatures too), off',
      options: ['auto', 'always', 'off'],
    }),
    gate: Flags.boolean({description: 'exit with status 3 when the verdict has a red dimension (for CI; 1 means the run failed)', default: false}),
    thresholds: Flags.string({description: 'scorecard thresholds file (YAML or JSON) for the verdict, overriding the defaults'}),
    accepted: acceptedFlag,
    shard: Flags.string({
      description:
        'replay only shard i of N (e.g. 2/4) into this --db: requests are split by session (a stable hash, docs/scale-out.md); join the N shard stores with `understudy runs merge`',
    }),
    resume: Flags.string({description: 'finish an interrupted run (id or unique prefix); other inputs come from the run'}),
    db: dbFlag,
  }

  async run(): Promise<ShadowSummary> {
    const {args, flags} = await this.parse(Shadow)
    // Read before the run, so a bad thresholds file fails in a second, not after the replay.
    const thresholds = flags.thresholds ? loadThresholds(flags.thresholds) : undefined
    const accepted = resolveAccepted(flags.accepted)
    const store = openStore(flags.db)
    // Closed on every path, a failed start included: in a long-lived host (a test worker, a library
    // caller) an error must not leave the store's file, WAL and shared memory open.
    try {
      const controller = new AbortController()
      const mode = this.jsonEnabled() ? 'silent' : process.stderr.isTTY ? 'tty' : 'plain'
      const reporter = createReporter(mode)
      let signals = 0
      const onSignal = (): void => {
        signals++
        if (signals > 1) process.exit(EXIT.interrupted)
        reporter.stopping()
        controller.abort()
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)

      let result: ShadowResult
      try {
        const hooks = {
          signal: controller.signal,
          onRunCreated: (run: {id: string; candidate_ref: string; baseline_ref: string}) => reporter.start(run.id, run.candidate_ref, run.baseline_ref),
          onProgress: (p: Parameters<typeof reporter.update>[0]) => reporter.update(p),
          onNotice: (notice: string) => {
            if (!this.jsonEnabled()) this.err(`note: ${notice}`)
          },
          onSkipped: (s: SkippedLine) => reporter.skipped(skippedLineProblems(s)),
          ...(flags.threads === undefined ? {} : {threads: flags.threads}),
        }
        if (flags.resume) {
          if (args.traffic || flags.candidate || flags.scenario || flags.skill || flags.shard) {
            throw new UnderstudyError('--resume continues a run with its own inputs; leave out the traffic file, --candidate, --scenario, --skill and --shard')
          }
          result = await resumeShadow(flags.resume, store, hooks)
        } else {
          const input = await resolveShadowInput({
            traffic: args.traffic,
            scenario: flags.scenario,
            candidate: flags.candidate,
            baseline: flags.baseline,
            model: flags.model,
            ollama_host: flags['ollama-host'],
            concurrency: flags.concurrency,
            repeat: flags.repeat,
            faults: flags.faults,
            seed: flags.seed,
            approver: flags.approver as 'approve' | 'deny' | 'pending' | undefined,
            fixtures: flags.fixtures,
            record_cassette: flags['record-cassette'],
            replay_cassette: flags['replay-cassette'],
            run_name: flags['run-name'],
            limit: flags.limit,
            strict: flags.strict,
            model_cache: flags['model-cache'] as 'auto' | 'always' | 'off' | undefined,
            skill: flags.skill,
            shard: flags.shard,
          })
          result = await startShadow(input, store, hooks)
        }
      } catch (e) {
        throw withResumeHint(e, flags.db)
      } finally {
        reporter.finish()
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }

      const summary = await shadowSummary(store, result, flags.db, {thresholds, thresholdsFile: flags.thresholds ?? null, accepted})
      this.write(renderShadowSummary(summary))
      if (result.interrupted) process.exitCode = EXIT.interrupted
      else if (summary.verdict !== null) this.gate(flags.gate, summary.verdict.gate)
      return summary
    } finally {
      store.close()
    }
  }
}
