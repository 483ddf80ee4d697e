/**
 * Sums a V8 .cpuprofile (from `node --cpu-prof`) by self time, per function and per file, so a
 * profile can be read without DevTools:
 *
 *   node --cpu-prof --cpu-prof-dir /tmp/prof bin/run.js shadow …
 *   node dist/bench/cpuprofile.js /tmp/prof/CPU.*.cpuprofile [top=30]
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
    process.stderr.write('usage: node dist/bench/cpuprofile.js <file.cpuprofile> [top=30]\n')
    process.exit(2)
  }
  const top = Number(process.argv[3] ?? 30)
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Profile)
  const row = (r: SelfTime) => `${r.ms.toFixed(0).padStart(8)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`
  console.log(`total sampled: ${s.total_ms.toFixed(0)} ms`)
  console.log('\nby file (self time):')
  for (const r of s.files.slice(0, top)) console.log(row(r))
  console.log('\nby function (self time):')
  for (const r of s.functions.slice(0, top)) console.log(row(r))
}
