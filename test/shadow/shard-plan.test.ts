import {Job} from 'kubernetes-models/batch/v1'
import {describe, expect, it} from 'vitest'
import YAML from 'yaml'
import {renderShardPlan, shardPlan, shellQuote, type ShardPlanOptions} from '../../src/shadow/shard-plan.js'

const base: ShardPlanOptions = {
  traffic: 'scenarios/banking-assistant/traffic.jsonl',
  candidate: 'scenarios/banking-assistant/v2-no-injection-defence',
  baseline: 'scenarios/banking-assistant/v1',
  shards: 4,
  image: 'registry.example.com/understudy:0.1.0',
  name: 'bank-nightly',
  namespace: 'shadow',
  pvc: 'understudy-data',
  ollamaImage: 'ollama/ollama:0.6.8',
}

/** The printed plan read back as Kubernetes sees it: each document a Job, checked against the API schema. */
function printedJobs(opts: ShardPlanOptions): Job[] {
  const docs = YAML.parseAllDocuments(renderShardPlan(shardPlan(opts))).map((d) => d.toJS()).filter((d) => d !== null)
  return docs.map((d) => {
    const job = new Job(d)
    job.validate()
    return job
  })
}

describe('shard plan', () => {
  it('prints an Indexed Job with an Ollama sidecar per pod and a suspended merge Job, both valid against the Kubernetes API schema', () => {
    const [shards, merge] = printedJobs({...base, ollamaSidecar: 'llama3.1:8b'})
    expect(shards!.metadata).toMatchObject({name: 'bank-nightly-shards', namespace: 'shadow'})
    expect(shards!.spec).toMatchObject({completionMode: 'Indexed', completions: 4, parallelism: 4})
    const pod = shards!.spec!.template.spec!
    const script = pod.containers[0]!.command!.join(' ')
    expect(script).toContain('i="$((JOB_COMPLETION_INDEX + 1))"')
    expect(script).toContain(`understudy shadow ${base.traffic} --candidate ${base.candidate} --baseline ${base.baseline} --model ollama:llama3.1:8b --ollama-host http://127.0.0.1:11434 --shard "$i/4" --db /scratch/shard.db`)
    expect(script).toContain('mv "shards/.shard-$i.db.part" "shards/shard-$i.db"')
    // A native sidecar: the pod (and so the Job) completes when the replay ends.
    expect(pod.initContainers).toMatchObject([{name: 'ollama', image: 'ollama/ollama:0.6.8', restartPolicy: 'Always', startupProbe: {exec: {command: ['ollama', 'show', 'llama3.1:8b']}}}])
    expect(pod.volumes!.map((v) => v.name)).toEqual(['data', 'scratch', 'ollama-models'])
    expect(merge!.spec!.suspend).toBe(true)
    expect(merge!.spec!.template.spec!.containers[0]!.command!.join(' ')).toContain(
      'understudy runs merge shards/shard-1.db shards/shard-2.db shards/shard-3.db shards/shard-4.db --into /scratch/merged.db',
    )
  })

  it('shares a model service instead when given --ollama-host, and refuses what Kubernetes would', () => {
    const [shards] = printedJobs({...base, model: 'ollama:qwen3:8b', ollamaHost: 'http://ollama-a.models:11434,http://ollama-b.models:11434', parallelism: 2})
    const pod = shards!.spec!.template.spec!
    expect(pod.initContainers).toBeUndefined()
    expect(shards!.spec!.parallelism).toBe(2)
    expect(pod.containers[0]!.command!.join(' ')).toContain('--ollama-host http://ollama-a.models:11434,http://ollama-b.models:11434 --shard')
    expect(() => shardPlan({...base, name: 'Bank_Nightly'})).toThrow('--name "Bank_Nightly"')
    expect(() => shardPlan({...base, ollamaSidecar: 'm', ollamaHost: 'h'})).toThrow('give one')
    // The schema check is real: a Job Kubernetes would refuse does not validate.
    const job = shardPlan(base).shards.toJSON() as {spec: {completions: unknown}}
    job.spec.completions = 'four'
    expect(() => new Job(job as never).validate()).toThrow('completions must be integer')
  })

  it('quotes for the shell only what needs it', () => {
    expect(shellQuote('scenarios/a-b/v1')).toBe('scenarios/a-b/v1')
    expect(shellQuote("it's a $run")).toBe(`'it'\\''s a $run'`)
  })
})
