import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {compileInjectionMatcher} from '../../src/runtime/guardrails/patterns.js'
import {TOOL_RESULT_INJECTION, toolResultInjection} from '../../src/runtime/guardrails/post-action.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * Published attack strings (test/fixtures/injection/attacks.json, each with its source) and
 * ordinary text that uses the same words (benign.json), delivered the way an agent meets them:
 * inside a tool's answer.
 */
type Attack = {source: string; text: string}
type Benign = {kind: string; text: string}
const fixture = <T>(name: string): T => JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/injection', name), 'utf8')) as T
const {attacks} = fixture<{attacks: Attack[]}>('attacks.json')
const {benign} = fixture<{benign: Benign[]}>('benign.json')

const match = compileInjectionMatcher()
/** The text as one field of a search result, the way a mail or web tool hands it back. */
const answer = (text: string) => ({results: [{id: 'r-1', title: 'Re: your question', snippet: text, score: 0.8}], total: 1})
const scan = (text: string) => toolResultInjection('search_inbox', answer(text), match, 2)

describe('the shipped injection patterns on published attacks', () => {
  it('holds enough of each kind of string', () => {
    expect(attacks.length).toBeGreaterThanOrEqual(30)
    expect(benign.length).toBeGreaterThanOrEqual(30)
    expect(attacks.every((a) => a.source.length > 0 && a.text.trim().length > 0)).toBe(true)
  })

  it.each(attacks.map((a, i) => [i, a.text.trim().slice(0, 60), a] as const))('flags attack %i (%s…) in a tool result', (_i, _head, a) => {
    const g = scan(a.text)
    expect(g, a.source).toMatchObject({check: TOOL_RESULT_INJECTION, passed: false, severity: 'high', stage: 'post_action'})
  })

  it.each(benign.map((b, i) => [i, b.kind, b] as const))('leaves benign text %i (%s) alone', (_i, _kind, b) => {
    expect(scan(b.text), b.text).toBeNull()
  })
})
