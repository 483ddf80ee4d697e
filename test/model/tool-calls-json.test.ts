import {describe, expect, it} from 'vitest'
import {toolCallsJson} from '../../src/model/tool-calls-json.js'
import type {ModelToolCall} from '../../src/model/types.js'

describe('toolCallsJson', () => {
  it("gives each proposal its own JSON text, however many proposals were measured since (kept texts are bounded)", () => {
    // Proposals of a domain the runtime never saw: a lighthouse keeper's tools.
    const proposals: ModelToolCall[][] = Array.from({length: 100}, (_, i) => [{name: 'lamp_on', arguments: {tower: `T-${i}`, lux: i * 10}}])
    for (const p of proposals) expect(toolCallsJson(p)).toBe(JSON.stringify(p))
    // Measured again, old and recent alike: the same text, never another proposal's.
    for (const p of [...proposals].reverse()) expect(toolCallsJson(p)).toBe(JSON.stringify(p))
    const recent = proposals.at(-1)!
    expect(toolCallsJson(recent)).toBe(toolCallsJson(recent))
  })
})
