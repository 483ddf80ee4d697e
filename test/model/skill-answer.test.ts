import {describe, expect, it} from 'vitest'
import {renderParaphrase} from '../../src/model/scripted/skill-answer.js'
import {findEmails, hasCardNumber} from '../../scenarios/support-refunds/skill/extract.js'

/** What renderParaphrase did before its templates were split once: one regex replace per call. */
function byReplace(template: string, facts: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = facts[name]
    return v === undefined ? (name.endsWith('_ref') ? '' : whole) : String(v)
  })
}

describe('renderParaphrase', () => {
  it('fills each template as a replace of its {name} slots would, whatever the facts', () => {
    const templates = ['', 'plain', '{a}', '{a}{b}', 'x {a} y {missing} z {gone_ref}.', '{{a}} {a b} {} {a-b} ${a}', '{a}{a}{a}']
    const factsList: Record<string, string | number>[] = [{}, {a: 'A', b: 2}, {a: '{b}', b: '$&'}, {a: 0, gone_ref: ' (ref 1)'}]
    for (const facts of factsList) {
      // Twice each, so the second render comes from the split kept for the template.
      for (const t of [...templates, ...templates]) expect(renderParaphrase([t], facts, 0)).toBe(byReplace(t, facts))
    }
    expect(renderParaphrase(['one {a}', 'two {a}'], {a: 1}, 3)).toBe('two 1')
  })
})

describe('support skill text scans', () => {
  it('finds a card number only from 13 digits on, grouped or not, as the pattern alone did', () => {
    expect(hasCardNumber('card 4111 1111 1111 1 please')).toBe(true)
    expect(hasCardNumber('4111-1111-1111-1111')).toBe(true)
    expect(hasCardNumber('order ORD-100021 for $92.13 on 2025-06-01')).toBe(false)
    expect(hasCardNumber('4111 1111 1111')).toBe(false)
    // 13 digits in all, but not in the card's shape.
    expect(hasCardNumber('1234 5678 90 123')).toBe(false)
  })

  it('finds addresses only where there is an @', () => {
    expect(findEmails('no address here')).toEqual([])
    expect(findEmails('write to Ana@Example.org or bo@x.io')).toEqual(['ana@example.org', 'bo@x.io'])
  })
})
