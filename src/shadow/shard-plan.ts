import {Job} from 'kubernetes-models/batch/v1'
import type {IContainer} from 'kubernetes-models/v1/Container'
import YAML from 'yaml'
import {ValidationError} from '../errors.js'
import {parseModelSpec} from '../model/factory.js'
import {normalizeOllamaHost} from '../model/ollama.js'
import {parseOllamaHosts} from '../model/ollama-pool.js'
import {MAX_SHARDS} from './shard.js'

/**
 * `understudy shard plan`: a sharded replay as Kubernetes objects (docs/scale-out.md). Kubernetes
 * schedules, retries and runs the pods; understudy only splits the traffic (`--shard i/N`) and
 * merges the result (`runs merge`). Two Jobs, built as typed objects of `kubernetes-models` and
 * checked against the Kubernetes API schema (`.validate()`) before anything is printed:
 *
 * - `<name>-shards`, an Indexed Job (`completionMode: Indexed`, N completions): pod i replays shard
 *   JOB_COMPLETION_INDEX + 1 of N into a store on its own local disk (an emptyDir: SQLite's WAL wants
 *   a local file system), then copies the finished store to the shared volume as
 *   `shards/shard-<i>.db` (copy, then rename: a half-copied store never carries the final name).
 *   A retried pod starts its shard over. With `--ollama-sidecar <model>` each pod runs its own
 *   Ollama as a native sidecar (an init container with `restartPolicy: Always`, so the Job completes
 *   when the replay does) that pulls the model before the replay starts; otherwise the pods share
 *   the model service named by `--ollama-host` (one or several servers).
 * - `<name>-merge`, created suspended: once the shards Job completes, unsuspending it runs
 *   `runs merge` over the N stores into `merged.db` on the same volume.
 */

export type ShardPlanOptions = {
  traffic: string
  candidate: string
  baseline?: string
  model?: string
  fixtures?: string
  concurrency?: number
  seed?: number
  runName?: string
  shards: number
  /** Pods at once (default: all shards). */
  parallelism?: number
  image: string
  /** Job names are `<name>-shards` and `<name>-merge`. */
  name: string
  namespace?: string
  /** The PersistentVolumeClaim (ReadWriteMany when pods land on several nodes) holding inputs and stores, mounted at /data. */
  pvc: string
  ollamaSidecar?: string
  ollamaImage: string
  ollamaHost?: string
}

export type ShardPlan = {shards: Job; merge: Job; commands: string[]}

export const DATA_DIR = '/data'
const LOCAL_DIR = '/scratch'
const OLLAMA_PORT = 11434
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
/** RFC 1123 subdomain, as Kubernetes names most objects (a PersistentVolumeClaim): DNS labels joined by dots, at most 253 characters. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/**
 * A container image reference, by the grammar of distribution/reference (reference.go, v0.5.0),
 * which container runtimes parse `image:` with: `[domain/]path[:tag][@digest]`, the domain's
 * components letters, digits and inner hyphens with an optional port (or a bracketed IPv6
 * address), the path's components lower-case letters and digits joined by `.`, `_`, `__` or runs of
 * `-`, the tag a word character then up to 127 of word characters, `.` and `-`, the digest an
 * algorithm and at least 32 hex digits. The name (domain and path) is at most 255 characters.
 * A reference Kubernetes accepts but no runtime can pull would fail every pod at its start.
 */
const IMAGE_DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
const IMAGE_PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
const IMAGE_NAME = new RegExp(`^(?:${IMAGE_DOMAIN}/)?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*$`)
const IMAGE_TAG = /^\w[\w.-]{0,127}$/
const IMAGE_DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const IMAGE_NAME_MAX = 255

/** Why `ref` is not an image reference, or null when it is one. */
function imageReferenceProblem(ref: string): string | null {
  // Longer than any valid reference can be (name, tag, a sha512 digest): not worth matching.
  if (ref.length > 512) return 'longer than any image reference'
  const at = ref.indexOf('@')
  const digest = at === -1 ? null : ref.slice(at + 1)
  const nameAndTag = at === -1 ? ref : ref.slice(0, at)
  // The tag follows the last ':' after the last '/' (a ':' before it is the registry's port).
  const colon = nameAndTag.lastIndexOf(':')
  const tagged = colon > nameAndTag.lastIndexOf('/')
  const name = tagged ? nameAndTag.slice(0, colon) : nameAndTag
  const tag = tagged ? nameAndTag.slice(colon + 1) : null
  if (name === '') return 'no image name'
  if (name.length > IMAGE_NAME_MAX) return `the name is longer than ${IMAGE_NAME_MAX} characters`
  if (!IMAGE_NAME.test(name)) return `"${name}" is not an image name (registry host, then lower-case path components such as library/ubuntu)`
  if (tag !== null && !IMAGE_TAG.test(tag)) return `"${tag}" is not a tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`
  if (digest !== null && !IMAGE_DIGEST.test(digest)) return `"${digest}" is not a digest (algorithm:hex, e.g. sha256: and 64 hex digits)`
  return null
}

/**
 * An Ollama model name, as `ollama pull` takes it: `[host/][namespace/]model[:tag]`, each part
 * letters, digits, '_', '.', '-' starting with a letter or digit (the host may carry a port).
 */
const OLLAMA_MODEL = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]*(?::[0-9]+)?\/)?(?:[A-Za-z0-9][A-Za-z0-9_.-]*\/)?[A-Za-z0-9][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/

export function shardPlan(o: ShardPlanOptions): ShardPlan {
  checkOptions(o)
  const labels = {'app.kubernetes.io/name': 'understudy', 'app.kubernetes.io/instance': o.name}
  const shardsName = `${o.name}-shards`
  const mergeName = `${o.name}-merge`
  const volumes = [
    {name: 'data', persistentVolumeClaim: {claimName: o.pvc}},
    {name: 'scratch', emptyDir: {}},
  ]
  const mounts = [
    {name: 'data', mountPath: DATA_DIR},
    {name: 'scratch', mountPath: LOCAL_DIR},
  ]
  const ollamaHost = o.ollamaSidecar !== undefined ? `http://127.0.0.1:${OLLAMA_PORT}` : o.ollamaHost
  const shadowArgs = [
    'understudy', 'shadow', o.traffic, '--candidate', o.candidate,
    // A sidecar serves one model: the one the replay asks for, unless --model says otherwise.
    ...opt('--baseline', o.baseline), ...opt('--model', o.model ?? (o.ollamaSidecar === undefined ? undefined : `ollama:${o.ollamaSidecar}`)), ...opt('--fixtures', o.fixtures),
    ...opt('--concurrency', o.concurrency), ...opt('--seed', o.seed), ...opt('--run-name', o.runName),
    ...opt('--ollama-host', ollamaHost),
  ].map(shellQuote)
  const shard = '"$((JOB_COMPLETION_INDEX + 1))"'
  const local = `${LOCAL_DIR}/shard.db`
  const script = [
    'set -e',
    `i=${shard}`,
    // A retried pod starts its shard over: its scratch disk is new, and the shared copy is replaced only once whole.
    `${shadowArgs.join(' ')} --shard "$i/${o.shards}" --db ${local}`,
    'mkdir -p shards',
    `cp ${local} "shards/.shard-$i.db.part"`,
    `mv "shards/.shard-$i.db.part" "shards/shard-$i.db"`,
  ].join('\n')

  const replay: IContainer = {
    name: 'replay',
    image: o.image,
    command: ['sh', '-c', script],
    workingDir: DATA_DIR,
    volumeMounts: mounts,
  }
  const sidecars: IContainer[] = o.ollamaSidecar === undefined ? [] : [ollamaSidecar(o.ollamaImage, o.ollamaSidecar)]
  const shards = new Job({
    metadata: {name: shardsName, ...(o.namespace === undefined ? {} : {namespace: o.namespace}), labels},
    spec: {
      completionMode: 'Indexed',
      completions: o.shards,
      parallelism: o.parallelism ?? o.shards,
      // Each shard is retried on its own; one shard failing for good does not stop the others.
      backoffLimitPerIndex: 2,
      template: {
        metadata: {labels},
        spec: {
          restartPolicy: 'Never',
          ...(sidecars.length === 0 ? {} : {initContainers: sidecars}),
          containers: [replay],
          volumes: [...volumes, ...(sidecars.length === 0 ? [] : [{name: 'ollama-models', emptyDir: {}}])],
        },
      },
    },
  })

  const stores = Array.from({length: o.shards}, (_, i) => `shards/shard-${i + 1}.db`)
  const mergeScript = [
    'set -e',
    `understudy runs merge ${stores.join(' ')} --into ${LOCAL_DIR}/merged.db`,
    `cp ${LOCAL_DIR}/merged.db .merged.db.part`,
    'mv .merged.db.part merged.db',
  ].join('\n')
  const merge = new Job({
    metadata: {name: mergeName, ...(o.namespace === undefined ? {} : {namespace: o.namespace}), labels},
    spec: {
      // Started by hand (or by the pipeline) once every shard is stored: see `commands`.
      suspend: true,
      completions: 1,
      backoffLimit: 1,
      template: {
        metadata: {labels},
        spec: {
          restartPolicy: 'Never',
          containers: [{name: 'merge', image: o.image, command: ['sh', '-c', mergeScript], workingDir: DATA_DIR, volumeMounts: mounts}],
          volumes,
        },
      },
    },
  })
  shards.validate()
  merge.validate()

  const ns = o.namespace === undefined ? '' : ` -n ${o.namespace}`
  const commands = [
    `kubectl apply${ns} -f plan.yaml`,
    `kubectl wait${ns} --for=condition=complete job/${shardsName} --timeout=24h`,
    `kubectl patch${ns} job/${mergeName} --type=merge -p '{"spec":{"suspend":false}}'`,
    `kubectl wait${ns} --for=condition=complete job/${mergeName} --timeout=1h`,
    `# then, from a pod or a copy of the volume: understudy report <run id> --db ${DATA_DIR}/merged.db --format html --out report.html`,
  ]
  return {shards, merge, commands}
}

/** The plan as one YAML stream: the commands as comments, then the two Jobs. */
export function renderShardPlan(plan: ShardPlan): string {
  const head = ['# understudy shard plan: run with', ...plan.commands.map((c) => (c.startsWith('#') ? c : `#   ${c}`))].join('\n')
  // Scripts as literal blocks, lines never folded: what `kubectl get -o yaml` shows, and readable.
  const yaml = (job: Job): string => YAML.stringify(job.toJSON(), {lineWidth: 0, blockQuote: 'literal'})
  return `${head}\n---\n${yaml(plan.shards)}---\n${yaml(plan.merge)}`
}

/**
 * Ollama as a native sidecar: it starts first, pulls the model, and the replay starts once the
 * startup probe finds the model there; it is stopped when the replay ends, so the pod completes.
 */
function ollamaSidecar(image: string, model: string): IContainer {
  return {
    name: 'ollama',
    image,
    restartPolicy: 'Always',
    command: ['sh', '-c', `ollama serve & until ollama list >/dev/null 2>&1; do sleep 1; done; ollama pull ${shellQuote(model)}; wait`],
    env: [{name: 'OLLAMA_HOST', value: `127.0.0.1:${OLLAMA_PORT}`}],
    ports: [{containerPort: OLLAMA_PORT, name: 'ollama'}],
    // Up to 30 minutes for the pull of a large model.
    startupProbe: {exec: {command: ['ollama', 'show', model]}, periodSeconds: 5, failureThreshold: 360},
    volumeMounts: [{name: 'ollama-models', mountPath: '/root/.ollama'}],
  }
}

function checkOptions(o: ShardPlanOptions): void {
  const problems: string[] = []
  if (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > MAX_SHARDS) problems.push(`--shards ${o.shards}: must be 1 to ${MAX_SHARDS}`)
  if (o.parallelism !== undefined && (!Number.isInteger(o.parallelism) || o.parallelism < 1)) problems.push(`--parallelism ${o.parallelism}: must be a positive integer`)
  // `<name>-shards` is a Job name and a label value: a DNS label of at most 63 characters.
  if (!DNS_LABEL.test(o.name) || o.name.length > 63 - '-shards'.length) problems.push(`--name "${o.name}": lower-case letters, digits and '-', at most 56 characters, starting and ending with a letter or digit`)
  if (o.ollamaSidecar !== undefined && o.ollamaHost !== undefined) problems.push('--ollama-sidecar and --ollama-host: give one (each pod its own Ollama, or a shared model service)')
  for (const [flag, ref] of [['--image', o.image], ...(o.ollamaSidecar === undefined ? [] : [['--ollama-image', o.ollamaImage]])] as const) {
    const why = imageReferenceProblem(ref)
    if (why !== null) problems.push(`${flag} "${ref}": not a container image reference: ${why}`)
  }
  // What the API server checks of these names, and kubernetes-models' schema does not.
  if (o.namespace !== undefined && (!DNS_LABEL.test(o.namespace) || o.namespace.length > 63)) problems.push(`--namespace "${o.namespace}": lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit`)
  if (!DNS_SUBDOMAIN.test(o.pvc) || o.pvc.length > 253) problems.push(`--pvc "${o.pvc}": a PersistentVolumeClaim name: lower-case letters, digits, '-' and '.', at most 253 characters, each dot-separated part starting and ending with a letter or digit`)
  // What every pod's `understudy shadow` would refuse at its start, refused here once instead.
  const flagChecks = [
    () => o.model !== undefined && parseModelSpec(o.model),
    () => o.ollamaHost !== undefined && (parseOllamaHosts(o.ollamaHost) ?? normalizeOllamaHost(o.ollamaHost, '--ollama-host')),
  ]
  for (const check of flagChecks) {
    try {
      check()
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e
      problems.push(...e.problems)
    }
  }
  if (o.ollamaSidecar !== undefined && (o.ollamaSidecar.length > 350 || !OLLAMA_MODEL.test(o.ollamaSidecar))) problems.push(`--ollama-sidecar "${o.ollamaSidecar}": not an Ollama model name ([host/][namespace/]model[:tag], e.g. llama3.1:8b)`)
  if (problems.length > 0) throw new ValidationError(problems)
}

function opt(flag: string, value: string | number | undefined): string[] {
  return value === undefined ? [] : [flag, String(value)]
}

/** A word for `sh -c`: left bare when it has nothing the shell reads, else single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word
  return `'${word.replaceAll("'", `'\\''`)}'`
}
