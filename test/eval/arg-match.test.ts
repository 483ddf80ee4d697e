import {describe, expect, it} from 'vitest'
import {argHolds, argsHold, lookup} from '../../src/eval/arg-match.js'
import {redactionMarker} from '../../src/runtime/redact.js'
import {Expectations} from '../../src/traffic/schema.js'

// A SEPA transfer as a banking tool receives it (IBANs from the ECBS example set, not real accounts).
const transfer = {recipient: {iban: 'DE89370400440532013000', name: 'Landlord'}, amount: 1200, currency: 'EUR', tags: ['rent', 'monthly'], memo: 'rent March'}

describe('argument matchers', () => {
  it('a plain value is equality; objects and arrays compare whole', () => {
    expect(argsHold({'recipient.iban': 'DE89370400440532013000'}, transfer)).toBe(true)
    expect(argsHold({'recipient.iban': 'GB82WEST12345698765432'}, transfer)).toBe(false)
    expect(argsHold({recipient: {iban: 'DE89370400440532013000', name: 'Landlord'}}, transfer)).toBe(true)
    expect(argsHold({recipient: {iban: 'DE89370400440532013000'}}, transfer)).toBe(false)
    expect(argsHold({'tags.1': 'monthly'}, transfer)).toBe(true)
    expect(argsHold({}, transfer)).toBe(true)
  })

  it('a key holding the dot itself wins over the path (records written before paths keep their meaning)', () => {
    expect(lookup({'a.b': 1, a: {b: 2}}, 'a.b')).toBe(1)
    expect(lookup({a: {b: 2}}, 'a.b')).toBe(2)
  })

  it('each operator', () => {
    const at = (path: string) => lookup(transfer, path)
    expect(argHolds({$eq: 1200}, at('amount'))).toBe(true)
    expect(argHolds({$ne: 'GB82WEST12345698765432'}, at('recipient.iban'))).toBe(true)
    expect(argHolds({$ne: 'DE89370400440532013000'}, at('recipient.iban'))).toBe(false)
    expect(argHolds({$in: ['USD', 'EUR']}, at('currency'))).toBe(true)
    expect(argHolds({$not_in: ['USD', 'EUR']}, at('currency'))).toBe(false)
    expect(argHolds({$matches: '^DE\\d{20}$'}, at('recipient.iban'))).toBe(true)
    expect(argHolds({$matches: '^GB'}, at('recipient.iban'))).toBe(false)
    expect(argHolds({$matches: '^1'}, at('amount'))).toBe(false)
    expect(argHolds({$gt: 1000}, at('amount'))).toBe(true)
    expect(argHolds({$gte: 1200}, at('amount'))).toBe(true)
    expect(argHolds({$lt: 1200}, at('amount'))).toBe(false)
    expect(argHolds({$lte: 1200}, at('amount'))).toBe(true)
    expect(argHolds({$gt: 0}, at('currency'))).toBe(false)
    expect(argHolds({$contains: 'March'}, at('memo'))).toBe(true)
    expect(argHolds({$contains: 'rent'}, at('tags'))).toBe(true)
    expect(argHolds({$contains: 'weekly'}, at('tags'))).toBe(false)
    expect(argHolds({$exists: true}, at('memo'))).toBe(true)
    expect(argHolds({$exists: false}, at('reference'))).toBe(true)
  })

  it('an absent path holds only for $exists: false, $ne and $not_in', () => {
    const absent = lookup(transfer, 'recipient.bic')
    expect(argHolds({$exists: false}, absent)).toBe(true)
    expect(argHolds({$ne: 'X'}, absent)).toBe(true)
    expect(argHolds({$not_in: ['X']}, absent)).toBe(true)
    for (const m of [{$eq: null}, {$in: [null]}, {$gt: 0}, {$matches: '.*'}, {$contains: 'x'}, {$exists: true}]) expect(argHolds(m, absent)).toBe(false)
    expect(argHolds(null, absent)).toBe(false)
  })

  it('a redaction marker matches the value it hides, under every equality operator', () => {
    const marker = redactionMarker('field', 'DE89370400440532013000')
    const stored = {recipient: {iban: marker}}
    expect(argsHold({'recipient.iban': 'DE89370400440532013000'}, stored)).toBe(true)
    expect(argsHold({'recipient.iban': {$in: ['DE89370400440532013000']}}, stored)).toBe(true)
    expect(argsHold({'recipient.iban': {$ne: 'DE89370400440532013000'}}, stored)).toBe(false)
    expect(argsHold({'recipient.iban': {$ne: 'GB82WEST12345698765432'}}, stored)).toBe(true)
  })
})

describe('matcher validation (Expectations)', () => {
  const parse = (args: Record<string, unknown>) => Expectations.safeParse({forbidden_calls: [{tool: 'send_money', args}]})
  const message = (args: Record<string, unknown>) => {
    const r = parse(args)
    return r.success ? null : `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`
  }

  it('accepts plain values, literal objects and one-key matchers', () => {
    expect(parse({iban: 'X', recipient: {name: 'A'}, amount: {$gte: 100}, currency: {$in: ['EUR']}}).success).toBe(true)
    expect(parse({meta: {$eq: {$ref: 'x'}}}).success).toBe(true)
  })

  it('names the field and the fault of a bad matcher', () => {
    expect(message({amount: {$gte: 'a lot'}})).toMatch(/^forbidden_calls\.0\.args\.amount(\.\$gte)?: .*number/)
    expect(message({iban: {$like: 'DE%'}})).toBe('forbidden_calls.0.args.iban: unknown matcher $like (matchers: $eq $ne $in $not_in $matches $gt $gte $lt $lte $exists $contains)')
    expect(message({amount: {$gt: 1, $lt: 5}})).toMatch(/exactly one \$-key, got \$gt, \$lt/)
    expect(message({iban: {$matches: '(['}})).toMatch(/valid regular expression/)
    expect(message({iban: {$in: 'DE'}})).toMatch(/array/)
  })

  it('an expected or forbidden call names its tool as tool or name, not both', () => {
    const byName = Expectations.parse({calls: [{name: 'book_flight', args: {seats: {$lte: 2}}}], forbidden_calls: [{name: 'send_money', args: {}}]})
    expect(byName.calls).toEqual([{tool: 'book_flight', args: {seats: {$lte: 2}}}])
    expect(byName.forbidden_calls).toEqual([{tool: 'send_money', args: {}}])
    expect(Expectations.safeParse({calls: [{tool: 'a', name: 'b', args: {}}]}).success).toBe(false)
    expect(Expectations.safeParse({calls: [{args: {}}]}).success).toBe(false)
  })

  it('expect.outcome takes one outcome or a non-empty list', () => {
    expect(Expectations.safeParse({outcome: 'refused'}).success).toBe(true)
    expect(Expectations.safeParse({outcome: ['refused', 'escalated']}).success).toBe(true)
    expect(Expectations.safeParse({outcome: []}).success).toBe(false)
    expect(Expectations.safeParse({outcome: 'declined'}).success).toBe(false)
  })
})
