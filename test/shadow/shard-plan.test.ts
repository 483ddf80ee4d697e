import {Job} from 'kubernetes-models/batch/v1'
import {describe, expect, it} from 'vitest'
import YAML from 'yaml'
import type {ValidationError} from '../../src/errors.js'
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

  it('refuses names the API server or the container runtime would refuse, naming the flag', () => {
    const refused = (o: Partial<ShardPlanOptions>, flag: string): void => {
      expect(() => shardPlan({...base, ...o}), flag).toThrow(flag)
    }
    refused({image: 'bad image!'}, '--image "bad image!": not a container image reference')
    refused({image: 'Registry.example.com/Understudy:1'}, '"Registry.example.com/Understudy" is not an image name')
    refused({image: 'understudy:1:2'}, '--image "understudy:1:2"')
    refused({image: 'understudy:.hidden'}, '".hidden" is not a tag')
    refused({image: 'understudy@sha256:abc'}, '"sha256:abc" is not a digest')
    refused({image: ''}, '--image "": not a container image reference: no image name')
    refused({image: `${'a'.repeat(256)}:1`}, 'longer than 255 characters')
    refused({ollamaSidecar: 'llama3', ollamaImage: 'ollama/ollama:latest latest'}, '--ollama-image "ollama/ollama:latest latest"')
    refused({namespace: 'Bad NS'}, '--namespace "Bad NS"')
    refused({namespace: 'a'.repeat(64)}, '--namespace')
    refused({pvc: 'Bad PVC!'}, '--pvc "Bad PVC!"')
    refused({pvc: 'data..claim'}, '--pvc "data..claim"')
    refused({ollamaSidecar: 'llama3; rm -rf /'}, '--ollama-sidecar "llama3; rm -rf /": not an Ollama model name')
    refused({model: 'bogus'}, '--model: "bogus" is not a model spec')
    refused({ollamaHost: 'ftp://models'}, '--ollama-host "ftp://models": only http:// and https://')
    refused({ollamaHost: 'http://a:11434,,http://b:11434'}, 'an empty server in the list')
    // Every problem at once, one line each.
    const both = (() => {
      try {
        shardPlan({...base, image: 'a b', pvc: 'B'})
      } catch (e) {
        return e as ValidationError
      }
    })()
    expect(both?.problems.map((p) => p.split(':')[0])).toEqual(['--image "a b"', '--pvc "B"'])
    // What runtimes do pull: a registry with a port, an IPv6 registry, a digest, separators, a namespaced sidecar model.
    for (const image of ['localhost:5000/team/understudy:v1.2-rc_3', '[fd00::1]:5000/understudy', `ghcr.io/acme/under__study@sha256:${'ab'.repeat(32)}`, 'understudy', 'a.b-c/d--e.f_g:latest']) {
      expect(() => shardPlan({...base, image}), image).not.toThrow()
    }
    expect(() => shardPlan({...base, namespace: 'team-1', pvc: 'shared.data-1', ollamaSidecar: 'registry.ollama.ai:443/library/qwen3:8b-q4_K_M'})).not.toThrow()
  })

  it('quotes for the shell only what needs it', () => {
    expect(shellQuote('scenarios/a-b/v1')).toBe('scenarios/a-b/v1')
    expect(shellQuote("it's a $run")).toBe(`'it'\\''s a $run'`)
  })
})
