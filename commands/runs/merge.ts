import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {mergeShards, type MergeResult} from '../../src/runs/merge.js'

export default class RunsMerge extends BaseCommand {
  static override summary = 'Merge the shard stores of a sharded replay (`shadow --shard i/N`) into one run.'
  static override description = `Checks that the stores hold the N shards of one run (same bundles, traffic and options, every shard i/N exactly once, each completed) and copies their traces into one completed run in the --into store, all or nothing: a failed merge leaves that store as it was. diff, report and scorecard of the merged run read as those of a single-process replay of the same traffic. See docs/scale-out.md.`

  static override examples = [
    '<%= config.bin %> runs merge shards/1.db shards/2.db shards/3.db shards/4.db --into merged.db',
    '<%= config.bin %> runs merge shards/*.db --into .understudy/understudy.db --json',
  ]

  static override strict = false

  static override args = {
    db: Args.string({description: 'shard stores (one shard run each)', required: true}),
  }

  static override flags = {
    into: Flags.string({description: 'the store to add the merged run to (created when missing)', required: true}),
  }

  async run(): Promise<MergeResult> {
    const {argv, flags} = await this.parse(RunsMerge)
    const result = mergeShards(argv as string[], flags.into)
    const requests = result.shards.reduce((n, s) => n + s.requests, 0)
    this.out(`merged ${result.shards.length} shards (${requests} requests) into run ${result.run.id} in ${flags.into}`)
    for (const s of result.shards) this.out(`  ${s.shard.padEnd(7)} ${s.file}  run ${s.run_id}  ${s.requests} requests`)
    const db = flags.into === '.understudy/understudy.db' ? '' : ` --db ${flags.into}`
    this.out('next:')
    this.out(`  understudy diff ${result.run.id}${db}`)
    this.out(`  understudy report ${result.run.id} --format html --out report.html${db}`)
    this.out(`  understudy scorecard ${result.run.id}${db}`)
    return result
  }
}
