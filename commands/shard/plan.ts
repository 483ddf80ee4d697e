import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../../src/cli/base-command.js'
import {renderShardPlan, shardPlan} from '../../src/shadow/shard-plan.js'

export default class ShardPlan extends BaseCommand {
  static override summary = 'Print a Kubernetes Indexed Job that replays traffic in N shards, and the Job that merges them.'
  static override description = `Each pod of the Indexed Job replays shard JOB_COMPLETION_INDEX+1 of N (\`shadow --shard i/N\`) and stores it on the shared volume; the second Job, created suspended, merges the shard stores into one run (\`runs merge\`) once you unsuspend it. Paths are as the pods see them, relative to the volume mounted at /data. Both Jobs are checked against the Kubernetes API schema before they are printed. See docs/scale-out.md.`

  static override examples = [
    '<%= config.bin %> shard plan traffic.jsonl --candidate bundles/v2 --shards 8 --image registry.example.com/understudy:0.1.0 --model recorded > plan.yaml',
    '<%= config.bin %> shard plan traffic.jsonl --candidate bundles/v2 --shards 8 --image registry.example.com/understudy:0.1.0 --ollama-sidecar llama3.1:8b',
    '<%= config.bin %> shard plan traffic.jsonl --candidate bundles/v2 --shards 8 --image registry.example.com/understudy:0.1.0 --model ollama:llama3.1:8b --ollama-host http://ollama.models.svc:11434',
  ]

  static override args = {
    traffic: Args.string({description: 'recorded traffic (JSONL), as the pods see it (relative to /data)', required: true}),
  }

  static override flags = {
    candidate: Flags.string({description: 'candidate bundle directory, as the pods see it', required: true}),
    baseline: Flags.string({description: 'baseline bundle directory (default: what production recorded)'}),
    model: Flags.string({description: 'model for the replay (default with --ollama-sidecar: ollama:<that model>)'}),
    fixtures: Flags.string({description: 'fixtures file'}),
    concurrency: Flags.integer({description: 'requests in flight per pod', min: 1, max: 256}),
    seed: Flags.integer({description: 'seed for fault injection'}),
    'run-name': Flags.string({description: 'a name for the run'}),
    shards: Flags.integer({description: 'how many shards (pods)', required: true, min: 1}),
    parallelism: Flags.integer({description: 'pods at once (default: every shard)', min: 1}),
    image: Flags.string({description: 'container image with understudy on its PATH', required: true}),
    name: Flags.string({description: 'Job names are <name>-shards and <name>-merge', default: 'understudy'}),
    namespace: Flags.string({description: 'Kubernetes namespace'}),
    pvc: Flags.string({description: 'PersistentVolumeClaim mounted at /data: inputs, shard stores and merged.db', default: 'understudy-data'}),
    'ollama-sidecar': Flags.string({description: 'run an Ollama sidecar in every pod serving this model', exclusive: ['ollama-host']}),
    'ollama-image': Flags.string({description: 'image of the Ollama sidecar', default: 'ollama/ollama:latest'}),
    'ollama-host': Flags.string({description: 'shared model service instead of a sidecar (one URL, or several: a,b,c)'}),
  }

  async run(): Promise<{shards: unknown; merge: unknown; commands: string[]}> {
    const {args, flags} = await this.parse(ShardPlan)
    const plan = shardPlan({
      traffic: args.traffic,
      candidate: flags.candidate,
      baseline: flags.baseline,
      model: flags.model,
      fixtures: flags.fixtures,
      concurrency: flags.concurrency,
      seed: flags.seed,
      runName: flags['run-name'],
      shards: flags.shards,
      parallelism: flags.parallelism,
      image: flags.image,
      name: flags.name,
      namespace: flags.namespace,
      pvc: flags.pvc,
      ollamaSidecar: flags['ollama-sidecar'],
      ollamaImage: flags['ollama-image'],
      ollamaHost: flags['ollama-host'],
    })
    this.write(renderShardPlan(plan))
    return {shards: plan.shards.toJSON(), merge: plan.merge.toJSON(), commands: plan.commands}
  }
}
