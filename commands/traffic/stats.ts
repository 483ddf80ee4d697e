import {Args} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {formatTrafficStats} from '../../src/traffic/format-stats.js'
import {trafficStats, type TrafficStats} from '../../src/traffic/stats.js'

export default class TrafficStatsCommand extends BaseCommand {
  static override description =
    'Summarise a recorded traffic file: requests by tenant, role, outcome and category; tool calls, errors and retries; policy decisions by reason; tokens and latency.'

  static override examples = [
    '<%= config.bin %> traffic stats scenarios/support-refunds/traffic.jsonl',
    '<%= config.bin %> traffic stats traffic.jsonl --json',
  ]

  static override args = {
    file: Args.string({description: 'traffic file, one JSON request per line', required: true}),
  }

  async run(): Promise<TrafficStats> {
    const {args} = await this.parse(TrafficStatsCommand)
    const stats = await trafficStats(args.file)
    for (const line of formatTrafficStats(stats)) this.out(line)
    return stats
  }
}
