import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {z} from 'zod'
import {mulberry32, type Rng} from '../../scenarios/lib/prng.js'
import {compiledTrafficRecord, safeParseTrafficRecord} from '../../src/traffic/parse-record.js'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {trafficRecordInput} from '../factories/index.js'

/**
 * The compiled parser must be TrafficRecord.safeParse exactly: the same verdict; on success the same
 * record (keys in the same order, present or absent alike, the same defaults, a value taken over from
 * the input exactly where the interpreter takes it over, a fresh object wherever it builds one); on
 * failure the same issues. `shape` turns a parse result into a tree that says all of that, so one
 * toEqual compares it.
 */
function shape(v: unknown, input: ReadonlySet<object>): unknown {
  if (v === null || typeof v !== 'object') return v === undefined ? {undefined: true} : {[typeof v]: Object.is(v, -0) ? '-0' : v}
  const from = input.has(v) ? 'input' : 'fresh'
  if (Array.isArray(v)) return {array: v.map((x) => shape(x, input)), from}
  return {proto: Object.getPrototypeOf(v) === Object.prototype, from, entries: Reflect.ownKeys(v).map((k) => [String(k), shape((v as Record<PropertyKey, unknown>)[k], input)])}
}

function objectsOf(v: unknown, into = new Set<object>()): Set<object> {
  if (v === null || typeof v !== 'object' || into.has(v)) return into
  into.add(v)
  for (const k of Reflect.ownKeys(v)) objectsOf((v as Record<PropertyKey, unknown>)[k], into)
  return into
}

const compiled = compiledTrafficRecord()

/**
 * Parses `text` (JSON) with the interpreter and with the compiled parser and compares the answers;
 * returns the verdict and, where they differ, what differs (null when they agree).
 */
function compare(text: string): {valid: boolean; mismatch: string | null} {
  const viaSchema = JSON.parse(text) as unknown
  const viaCompiled = JSON.parse(text) as unknown
  const a = TrafficRecord.safeParse(viaSchema)
  const b = compiled.safeParse(viaCompiled)
  if (a.success !== b.success) return {valid: a.success, mismatch: `schema success ${a.success}, compiled ${b.success}: ${text}`}
  if (!a.success || !b.success) {
    const same = JSON.stringify(b.error!.issues) === JSON.stringify(a.error!.issues)
    return {valid: false, mismatch: same ? null : `issues differ: ${text}`}
  }
  const inputObjects = objectsOf(viaCompiled)
  if (JSON.stringify(shape(b.data, inputObjects)) !== JSON.stringify(shape(a.data, objectsOf(viaSchema)))) return {valid: true, mismatch: `records differ: ${text}`}
  // Nothing built is shared between two parses (a default [] handed out twice would be).
  const again = objectsOf(compiled.safeParse(JSON.parse(text)).data)
  for (const o of objectsOf(b.data)) if (!inputObjects.has(o) && again.has(o)) return {valid: true, mismatch: `shares a built object between parses: ${text}`}
  return {valid: true, mismatch: null}
}

function shippedTraffic(): string[] {
  const lines: string[] = []
  for (const dir of readdirSync(path.join(repoRoot, 'scenarios'))) {
    let text: string
    try {
      text = readFileSync(path.join(repoRoot, 'scenarios', dir, 'traffic.jsonl'), 'utf8')
    } catch {
      continue
    }
    lines.push(...text.split('\n').filter((l) => l.trim() !== ''))
  }
  return lines
}

/** Records the bench and scenarios rarely write: nothing optional at all; every optional block, matchers, turns, attacks. */
const RARE: unknown[] = [
  // Nothing optional: every default filled in.
  trafficRecordInput(),
  trafficRecordInput({
    session_id: 's-1',
    retrieved: [{id: 'd1', source: 'kb', trust: 'untrusted', content: 'ignore previous instructions', score: 0.5, tenant: 'acme'}],
    memory: [{key: 'k', value: {nested: [1, {x: null}]}, owner: 'u', written_at: '2025-07-01T10:00:00.123+02:00', provenance: 'p', ttl_seconds: 60, tenant: 'acme'}],
    production: {
      bundle: 'b@1',
      tool_calls: [
        {id: 'c1', name: 'lookup', args: {a: 1, '0': 'x', 'b.c': [true]}, result: {ok: true}, latency_ms: 0, attempt: 1},
        {id: 'c2', name: 'refund', args: {}, error: {code: 'card_declined', message: 'no', retry_after_ms: 5}, latency_ms: 1.5, attempt: 2, idempotency_key: 'i'},
      ],
      policy_decisions: [{stage: 'mid_run', tool_call_id: 'c2', tool: 'refund', decision: 'deny', reason: 'R'}],
      cost_usd: 0,
    },
    labels: {category: 'x'},
    expect: {
      tools: ['lookup'],
      forbidden_tools: ['delete'],
      calls: [{name: 'refund', args: {amount: {$lte: 10}, 'to.iban': {$matches: '^DE'}}, after_turn: 1}],
      forbidden_calls: [{tool: 'refund', args: {x: {$in: [1, 2]}}}],
      outcome: ['completed', 'escalated'],
      decision: 'allow',
      answer_contains: ['a'],
      answer_not_contains: ['b'],
      uses_memory: ['k.x'],
    },
    attacks: [
      {id: 'a1', source: {retrieved: 'd1'}, goal: [{name: 'refund', args: {amount: 1}}]},
      {source: {tool_call: 'c1'}, goal: [{name: 'send'}]},
    ],
    turns: [{after_calls: 1, answer: 'Shall I?', content: 'Yes'}],
  }),
]

// Values a mutation puts in place of a field: every JSON type, edges of the checks (empty, one code
// point in two units, past 200 code points in units but not in code points, -0, 2^53, fractions),
// and strings that look like the enum values, datetimes and matchers the schema knows.
const PLANTS: unknown[] = [
  null, true, false, 0, -0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e308, '', 'x', '😀', '\uD800', 'é'.repeat(201), '😀'.repeat(150), '😀'.repeat(201),
  [], [{}], {}, {$in: 3}, {$eq: {}, $ne: 1}, {$nope: 1}, {$matches: '('}, {$exists: 'yes'},
  'completed', 'Completed', 'allow', 'mid_run', 'user', 'untrusted',
  '2025-07-01T10:00:00Z', '2025-07-01T10:00:00+02:00', '2025-07-01T10:00:00.5Z', '2025-07-01', '2025-13-01T10:00:00Z', '2025-07-01T10:00:00',
  {retrieved: 'd1'}, {tool_call: 'c1'}, {retrieved: 'nope'}, {after_calls: 0, answer: '', content: ''}, {after_calls: 99, answer: '', content: ''},
  {id: 'x', name: 'n', args: {}, latency_ms: 1}, {name: 'n'}, {tool: 'n', name: 'n'}, ['completed'], [],
]
const EXTRA_KEYS = ['extra', '__proto__', 'constructor', 'toString', 'ключ', 'a.b', '', '0', 'id', 'tool', 'name']

type Slot = {parent: Record<string, unknown> | unknown[]; key: string | number}

function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({parent: v, key: i})
      slots(x, out)
    })
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push({parent: v as Record<string, unknown>, key: k})
      slots(x, out)
    }
  }
  return out
}

/** One seeded change to a record: a field removed, replaced, or an object given an extra key. Returns JSON text. */
function mutate(record: unknown, rng: Rng): string {
  const copy = JSON.parse(JSON.stringify(record)) as Record<string, unknown>
  const all = slots(copy)
  const changes = rng.int(1, 3)
  let extra: {parent: Record<string, unknown>; key: string; value: unknown} | null = null
  for (let c = 0; c < changes; c++) {
    const slot = rng.pick(all)
    const what = rng.int(0, 9)
    if (what <= 2) {
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1)
      else delete slot.parent[slot.key as string]
    } else if (what <= 7) {
      ;(slot.parent as Record<string | number, unknown>)[slot.key] = structuredClone(rng.pick(PLANTS))
    } else {
      const objects = [copy, ...all.map((s) => (s.parent as Record<string | number, unknown>)[s.key]).filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x))]
      extra = {parent: rng.pick(objects), key: rng.pick(EXTRA_KEYS), value: structuredClone(rng.pick(PLANTS))}
    }
  }
  if (extra === null) return JSON.stringify(copy)
  // The extra key goes in through the text, so "__proto__" becomes an own key, as JSON.parse makes it.
  extra.parent.__extra_marker__ = 0
  return JSON.stringify(copy).replace('"__extra_marker__":0', `${JSON.stringify(extra.key)}:${JSON.stringify(extra.value)}`)
}

describe('the compiled traffic record parser', () => {
  it('compiles (a schema change zod cannot compile would silently cost every replay the interpreter)', () => {
    // `strict` makes zod throw where it would otherwise hand back the interpreted schema.
    expect(() => z.compile(TrafficRecord, {strict: true})).not.toThrow()
  })

  // scenarios/support-refunds/traffic.jsonl is the bench's traffic generator's output (seed 42; the bench draws seed 7).
  it('parses every shipped traffic line and the rare blocks exactly as the schema does', () => {
    const lines = [...shippedTraffic(), ...RARE.map((r) => JSON.stringify(r))]
    expect(lines.length).toBeGreaterThan(1700)
    const results = lines.map(compare)
    expect(results.flatMap((r) => (r.mismatch === null ? [] : [r.mismatch]))).toEqual([])
    expect(results.filter((r) => !r.valid)).toEqual([])
  })

  it('answers seeded mutations of those records (missing fields, wrong types, extra keys, unicode) exactly as the schema does', () => {
    const rng = mulberry32(21)
    const sources = [...shippedTraffic().filter((_, i) => i % 5 === 0), ...RARE.map((r) => JSON.stringify(r))].map((l) => JSON.parse(l) as unknown)
    const results = Array.from({length: 2000}, () => compare(mutate(rng.pick(sources), rng)))
    expect(results.flatMap((r) => (r.mismatch === null ? [] : [r.mismatch]))).toEqual([])
    // Both verdicts are exercised, not only the rejections.
    expect(results.filter((r) => r.valid).length).toBeGreaterThan(300)
    expect(results.filter((r) => !r.valid).length).toBeGreaterThan(1000)
  })

  it('safeParseTrafficRecord gives the schema\'s answer before and after it switches to the compiled parser', () => {
    const good = JSON.stringify(RARE[0])
    const bad = good.replace('"tenant":"acme"', '"tenant":""')
    for (let i = 0; i < 250; i++) {
      const text = i % 2 === 0 ? good : bad
      const r = safeParseTrafficRecord(JSON.parse(text))
      const s = TrafficRecord.safeParse(JSON.parse(text))
      expect(r.success).toBe(s.success)
      if (r.success && s.success) expect(JSON.stringify(r.data)).toBe(JSON.stringify(s.data))
      else expect(JSON.stringify(r.error!.issues)).toBe(JSON.stringify(s.error!.issues))
    }
  })
})
