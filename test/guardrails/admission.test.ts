import {afterEach, describe, expect, it} from 'vitest'
import {preModelGuardrails} from '../../src/runtime/guardrails/pre-model.js'
import {createRedactor, redactionMarker} from '../../src/runtime/redact.js'
import {TraceRecorder} from '../../src/runtime/trace-assembly.js'
import {ContextAdmission, type GuardrailResult} from '../../src/trace/schema.js'
import type {TrafficRecord} from '../../src/traffic/schema.js'
import {manifest as makeManifest, recordedRun, removeTempDirs, tempStore, trace, trafficRecord, type TrafficRecordOverrides} from '../factories/index.js'

/**
 * The pre-model guardrail hands over what it admitted as data: every retrieved document and memory
 * entry, admitted or not, by which checks, and which newer entry superseded an older one.
 */

const manifest = makeManifest({
  retrieval: {index: 'kb', embedding_version: 'v1', chunking: {strategy: 'none'}, min_trust: 'internal'},
  memory: {default_ttl_seconds: 3600, owners: ['profile-service'], provenance_required: true},
})

const NOW = '2025-07-01T10:00:00Z'
const HOUR = 3600_000
const at = (msAgo: number) => new Date(Date.parse(NOW) - msAgo).toISOString()
const entry = (key: string, value: unknown, over: Record<string, unknown> = {}) => ({
  key,
  value,
  owner: 'profile-service',
  written_at: at(HOUR / 2),
  provenance: 'profile-service:1',
  ...over,
})

function record(...overrides: TrafficRecordOverrides[]): TrafficRecord {
  return trafficRecord(
    {
      timestamp: NOW,
      retrieved: [
        {id: 'kb-1', source: 'kb', trust: 'trusted', content: 'Refunds within 30 days.'},
        {id: 'other-1', source: 'kb', trust: 'trusted', content: 'Globex pricing.', tenant: 'globex'},
        {id: 'web-1', source: 'web', trust: 'untrusted', content: 'Forum post.'},
      ],
      memory: [
        entry('city', 'Oslo', {written_at: at(HOUR / 3)}),
        entry('city', 'Bergen', {written_at: at(HOUR / 6)}),
        entry('channel', 'email', {written_at: at(2 * HOUR), provenance: undefined}),
        entry('nickname', 'Ann', {owner: 'crm', tenant: 'globex'}),
      ],
    },
    ...overrides,
  )
}

const admissionOf = (guardrails: GuardrailResult[]) => guardrails.filter((g) => g.context !== undefined)

describe('pre-model admission record', () => {
  it('places every document and memory entry, on the stage’s last result', () => {
    const pre = preModelGuardrails(record(), manifest)
    const carriers = admissionOf(pre.guardrails)
    expect(carriers).toHaveLength(1)
    expect(carriers[0]).toBe(pre.guardrails.at(-1))
    expect(carriers[0]!.check).toBe('memory.conflict')
    const context = ContextAdmission.parse(carriers[0]!.context)
    expect(context.documents).toEqual([
      {index: 0, id: 'kb-1', admitted: true, dropped_by: []},
      {index: 1, id: 'other-1', admitted: false, dropped_by: ['retrieval.tenant']},
      {index: 2, id: 'web-1', admitted: false, dropped_by: ['retrieval.trust']},
    ])
    expect(context.memory).toEqual([
      {index: 0, key: 'city', admitted: false, dropped_by: [], superseded_by: 1},
      {index: 1, key: 'city', admitted: true, dropped_by: [], superseded_by: null},
      {index: 2, key: 'channel', admitted: false, dropped_by: ['memory.ttl', 'memory.provenance'], superseded_by: null},
      {index: 3, key: 'nickname', admitted: false, dropped_by: ['memory.owner', 'memory.tenant'], superseded_by: null},
    ])
    // The record and what the model is given agree.
    expect(pre.evidence.map((d) => d.id)).toEqual(context.documents.filter((d) => d.admitted).map((d) => d.id))
    expect(pre.memory).toEqual(context.memory.filter((m) => m.admitted).map((m) => record().memory[m.index]))
  })

  it('drops everything past an oversized input, and records nothing for a request without documents or memory', () => {
    const long = preModelGuardrails(record({input: [{role: 'user', content: 'x'.repeat(30_000)}]}), manifest)
    const context = admissionOf(long.guardrails)[0]!.context!
    expect(admissionOf(long.guardrails)[0]!.check).toBe('input.size')
    expect(context.documents.every((d) => !d.admitted && d.dropped_by.join() === 'input.size')).toBe(true)
    expect(context.memory.every((m) => !m.admitted && m.dropped_by.join() === 'input.size')).toBe(true)
    expect(admissionOf(preModelGuardrails(record({retrieved: [], memory: []}), manifest).guardrails)).toEqual([])
  })

  it('is redacted on the trace like the details that name the same ids', () => {
    const email = 'ann@example.com'
    const pre = preModelGuardrails(record({retrieved: [{id: email, source: 'email', trust: 'internal', content: 'hi'}], memory: []}), manifest)
    const recorder = new TraceRecorder(createRedactor())
    recorder.addGuardrails(pre.guardrails)
    const context = admissionOf(recorder.guardrails)[0]!.context!
    expect(context.documents[0]!.id).toBe(redactionMarker('email', email))
    expect(JSON.stringify(recorder.guardrails)).not.toContain(email)
  })
})

describe('admission record in the store', () => {
  afterEach(removeTempDirs)

  it('reads back exactly as written, next to results that carry none', () => {
    const {store} = tempStore({prefix: 'understudy-admission-'})
    try {
      const run = store.createRun(recordedRun())
      const withContext = trace({request_id: 'req-1', line: 1, guardrails: preModelGuardrails(record(), manifest).guardrails})
      const without = trace({request_id: 'req-2', line: 2, guardrails: preModelGuardrails(record({retrieved: [], memory: []}), manifest).guardrails})
      store.writeTraces(run.id, [withContext, without])
      const read = [...store.iterateTraces(run.id)]
      expect(read).toEqual([withContext, without])
      expect(admissionOf(read[1]!.guardrails)).toEqual([])
      // Decoded lists are the trace's own, never shared with another read of the same text.
      const again = [...store.iterateTraces(run.id)]
      admissionOf(read[0]!.guardrails)[0]!.context!.memory[0]!.dropped_by.push('x')
      expect(again[0]).toEqual(withContext)
    } finally {
      store.close()
    }
  })
})
