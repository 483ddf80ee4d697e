/**
 * Sums a V8 .cpuprofile (from `node --cpu-prof`) by self time, per function and per file, so a
 * profile can be read without DevTools:
 *
 *   node --cpu-prof --cpu-prof-dir /tmp/prof bin/run.js shadow …
 *   node dist/bench/cpuprofile.js /tmp/prof/CPU.*.cpuprofile [top=30]
 *   node dist/bench/cpuprofile.js /tmp/prof/CPU.*.cpuprofile --by-stage
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

type ProfileNode = {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  hitCount?: number
  children?: number[]
}
type Profile = {nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[]; startTime: number; endTime: number}

export type SelfTime = {name: string; ms: number; share: number}

/** Self time per function (`name file:line`) and per file, largest first. */
export function summarizeProfile(profile: Profile): {total_ms: number; functions: SelfTime[]; files: SelfTime[]} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // A sample's time is the delta to the next sample (V8 records the delta before each sample).
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, dt))
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const fns = new Map<string, number>()
  const files = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame
    if (!f) continue
    const file = shortFile(f.url)
    const fn = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`
    fns.set(fn, (fns.get(fn) ?? 0) + us)
    files.set(file, (files.get(file) ?? 0) + us)
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m].map(([name, us]) => ({name, ms: us / 1000, share: total === 0 ? 0 : us / total})).sort((a, b) => b.ms - a.ms)
  return {total_ms: total / 1000, functions: rank(fns), files: rank(files)}
}

/**
 * What a replay's CPU is spent on, by stage: each sample goes to the stage of the innermost frame
 * on its stack that some rule names (a regular expression's native frame counts for the redactor
 * or guardrail that ran it; a zod or ajv frame anywhere inside counts as validation). Idle time is
 * left out. The rules name src/ folders, never a scenario.
 */
export const STAGES: [stage: string, test: (file: string, fn: string) => boolean][] = [
  ['garbage collection', (_f, fn) => fn === '(garbage collector)'],
  ['validation (zod, ajv)', (f) => f.startsWith('zod/') || f.startsWith('ajv/') || f.startsWith('src/traffic/schema')],
  ['traffic read + JSON.parse', (f) => f.startsWith('src/traffic/') || f === 'node:internal/fs/streams' || f === 'node:internal/streams/readable'],
  ['redaction', (f) => f.startsWith('src/runtime/redact')],
  ['guardrails', (f) => f.startsWith('src/runtime/guardrails/')],
  ['policy', (f) => f.startsWith('src/policy/')],
  ['mock tools, fixtures', (f) => f.startsWith('src/tools/')],
  ['model (scripted engine, skill, recorded)', (f) => f.startsWith('src/model/') || f.startsWith('scenarios/')],
  ['trace assembly (incl. recorded side, golden)', (f) => /^src\/runtime\/(trace-assembly|recorded)/.test(f) || f.startsWith('src/eval/') || f.startsWith('src/trace/')],
  ['agent loop (state machine, messages, budgets)', (f) => f.startsWith('src/runtime/')],
  ['canonical JSON + hashing', (f) => f.startsWith('src/util/canonical') || f.startsWith('node:internal/crypto')],
  ['row encoding (serialisation)', (f) => f.startsWith('src/store/rows') || f.startsWith('src/store/row-pack') || f === 'node:buffer' || f === 'node:internal/buffer'],
  ['writer hand-over (postMessage)', (f) => f === 'node:internal/worker' || f.startsWith('node:internal/per_context/messageport')],
  ['SQLite (better-sqlite3, store)', (f) => f.startsWith('better-sqlite3/') || f.startsWith('src/store/')],
  ['replay loop (src/shadow)', (f) => f.startsWith('src/shadow/') || f.startsWith('src/util/')],
  ['start-up (module loading, bundle, YAML)', (f) => f.startsWith('node:internal/modules') || f.startsWith('yaml/') || f.startsWith('src/bundle/')],
]

export function summarizeByStage(profile: Profile): {total_ms: number; stages: SelfTime[]} {
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const stageOf = new Map<number, string>()
  const classify = (id: number): string => {
    let stage = stageOf.get(id)
    if (stage !== undefined) return stage
    stage = 'other'
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame
      const file = shortFile(f.url)
      const hit = STAGES.find(([, test]) => test(file, f.functionName))
      if (hit) {
        stage = hit[0]
        break
      }
    }
    stageOf.set(id, stage)
    return stage
  }
  const us = new Map<string, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const fn = byId.get(samples[i]!)?.callFrame.functionName
    if (fn === '(idle)') continue
    const stage = fn === '(program)' ? 'V8 (program)' : classify(samples[i]!)
    us.set(stage, (us.get(stage) ?? 0) + Math.max(0, deltas[i + 1] ?? 0))
  }
  const total = [...us.values()].reduce((a, b) => a + b, 0)
  return {total_ms: total / 1000, stages: [...us].map(([name, v]) => ({name, ms: v / 1000, share: total === 0 ? 0 : v / total})).sort((a, b) => b.ms - a.ms)}
}

function shortFile(url: string): string {
  if (url === '') return '(native)'
  const p = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = p.lastIndexOf('node_modules/')
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length)
  const dist = p.lastIndexOf('/dist/')
  return dist >= 0 ? p.slice(dist + '/dist/'.length) : p
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js <file.cpuprofile> [top=30 | --by-stage]\n')
    process.exit(2)
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  if (process.argv[3] === '--by-stage') {
    const s = summarizeByStage(profile)
    console.log(`total sampled, idle left out: ${s.total_ms.toFixed(0)} ms`)
    for (const r of s.stages) console.log(`${r.ms.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`)
    process.exit(0)
  }
  const top = Number(process.argv[3] ?? 30)
  const s = summarizeProfile(profile)
  const row = (r: SelfTime) => `${r.ms.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`
  console.log(`total sampled: ${s.total_ms.toFixed(0)} ms`)
  console.log('\nby file (self time):')
  for (const r of s.files.slice(0, top)) console.log(row(r))
  console.log('\nby function (self time):')
  for (const r of s.functions.slice(0, top)) console.log(row(r))
}
