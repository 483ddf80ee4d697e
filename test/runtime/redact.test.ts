import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {createRedactor, redactionMarker} from '../../src/runtime/redact.js'

const r = createRedactor()
const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8)

const SECRETS: [kind: string, secret: string][] = [
  ['email', 'jo.doe+billing@example.co.uk'],
  ['card', '4111111111111111'],
  ['card', '5500 0000 0000 0004'],
  ['card', '3782-822463-10005'],
  ['api_key', 'sk-abcdefghijklmnop1234'],
  ['api_key', 'sk-proj-AbCdEf0123456789GhIjKlMnOp'],
  ['aws_key', 'AKIAIOSFODNN7EXAMPLE'],
  ['github_token', 'ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'],
  ['slack_token', 'xoxb-1234567890-abcdefghijkl'],
  ['slack_token', 'xoxp-9876543210-zyxwvutsrqpo'],
  ['ssn', '123-45-6789'],
  ['jwt', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0'],
]

describe('redactText', () => {
  it.each(SECRETS)('removes a planted %s', (kind, secret) => {
    const text = `Customer note: please use ${secret} for this, thanks.`
    const out = r.redactText(text)
    expect(out).not.toContain(secret)
    expect(out).toMatch(new RegExp(`\\[REDACTED:${kind}:[0-9a-f]{8}\\]`))
    expect(out.startsWith('Customer note: please use [REDACTED:')).toBe(true)
    expect(out.endsWith(' for this, thanks.')).toBe(true)
  })

  it('keeps the key of key=value pairs and the Bearer prefix, hiding the value', () => {
    const out = r.redactText('api_key=abcd1234efgh&user=jo password: hunter2 {"client_secret": "s3cr3t-value"} Authorization: Bearer abc.DEF-123_ghi456')
    for (const secret of ['abcd1234efgh', 'hunter2', 's3cr3t-value', 'abc.DEF-123_ghi456']) expect(out).not.toContain(secret)
    expect(out).toContain('api_key=[REDACTED:credential:')
    expect(out).toContain('&user=jo')
    expect(out).toContain('password: [REDACTED:credential:')
    expect(out).toContain('"client_secret": "[REDACTED:credential:')
    expect(out).toContain('Authorization: Bearer [REDACTED:bearer_token:')
  })

  it('leaves order ids, amounts, dates, phone-free ids and Luhn-invalid digit runs alone', () => {
    const text =
      'Refund ORD-100234 of $750.00 (order 1234567890123, ref 4111111111111112) placed 2024-05-01T10:00:00Z; ' +
      'ticket #48213, sku A-1002-XL, task-management-2024-plan, 12 items, tokens used 1500'
    expect(r.redactText(text)).toBe(text)
    expect(r.redactText('ORD-100234')).toBe('ORD-100234')
    expect(r.redactText('')).toBe('')
  })

  it('hashes the value so equal secrets stay comparable', () => {
    const a = r.redactText('card 4111111111111111')
    const b = r.redactText('other text, same card 4111 1111 1111 1111')
    const c = r.redactText('card 5500000000000004')
    const marker = (s: string) => s.match(/\[REDACTED:card:[0-9a-f]{8}\]/)![0]
    expect(marker(a)).toBe(marker(b))
    expect(marker(a)).not.toBe(marker(c))
    expect(marker(a)).toBe(`[REDACTED:card:${hash8('4111111111111111')}]`)
    expect(r.redactText('jo@example.com')).toBe(`[REDACTED:email:${hash8('jo@example.com')}]`)
  })

  it('is idempotent', () => {
    const once = r.redactText(SECRETS.map(([, s]) => s).join(' | ') + ' password=hunter22')
    expect(r.redactText(once)).toBe(once)
  })

  it('redacts every occurrence', () => {
    const out = r.redactText('a@example.com, b@example.com and a@example.com')
    expect(out.match(/\[REDACTED:email:/g)).toHaveLength(3)
    expect(out).not.toMatch(/@example/)
  })
})

describe('redactRequestText', () => {
  it('gives what redactText gives, for the same text asked again through either, and for the next one', () => {
    const fresh = createRedactor()
    const texts = ['req-000123', 'id-jo.doe@example.com', 'req-4111111111111111', 'ab', 'req-000124']
    for (const text of texts) {
      const want = r.redactText(text)
      expect(fresh.redactRequestText(text)).toBe(want)
      expect(fresh.redactText(text)).toBe(want)
      expect(fresh.redactRequestText(text)).toBe(want)
    }
    // The text kept is only the last one: an earlier id reads the same through the memo's path.
    expect(fresh.redactText(texts[1]!)).toBe(r.redactText(texts[1]!))
    expect(fresh.redactText(texts[1]!)).not.toContain('jo.doe')
  })
})

describe('redactArgs', () => {
  it('replaces values at sensitive paths, into nested objects and arrays', () => {
    const args = {
      order_id: 'ORD-100234',
      amount: 750,
      card: {number: '4111111111111111', holder: 'Jo Doe', cvv: 123},
      payments: [{iban: 'DE89370400440532013000'}, {iban: 'GB29NWBK60161331926819'}],
      contacts: [{phone: '555-0100'}, {phone: '555-0199'}],
      account: {pin: '0000', nested: {deep: ['x', 'y']}},
    }
    const out = r.redactArgs(args, ['card.number', 'card.cvv', 'payments.iban', 'contacts.1.phone', 'account.nested'])
    expect(out).toEqual({
      order_id: 'ORD-100234',
      amount: 750,
      card: {number: redactionMarker('field', '4111111111111111'), holder: 'Jo Doe', cvv: redactionMarker('field', '123')},
      payments: [{iban: redactionMarker('field', 'DE89370400440532013000')}, {iban: redactionMarker('field', 'GB29NWBK60161331926819')}],
      contacts: [{phone: '555-0100'}, {phone: redactionMarker('field', '555-0199')}],
      account: {pin: '0000', nested: redactionMarker('field', '{"deep":["x","y"]}')},
    })
    // The input is not mutated.
    expect(args.card.number).toBe('4111111111111111')
  })

  it('still redacts patterns in fields that are not listed as sensitive', () => {
    const out = r.redactArgs({to: 'jo@example.com', body: 'key sk-abcdefghijklmnop1234', order_id: 'ORD-100234'}, [])
    expect(out.order_id).toBe('ORD-100234')
    expect(out.to).toBe(`[REDACTED:email:${hash8('jo@example.com')}]`)
    expect(String(out.body)).not.toContain('sk-abcdefghijklmnop1234')
  })

  it('supports * for any key and ignores paths that are absent', () => {
    const out = r.redactArgs({secrets: {a: 'one', b: 'two'}, other: 'keep'}, ['secrets.*', 'missing.path'])
    expect(out).toEqual({secrets: {a: redactionMarker('field', 'one'), b: redactionMarker('field', 'two')}, other: 'keep'})
  })
})

describe('redactValue', () => {
  it('walks objects and arrays, keeping keys and non-strings', () => {
    const value = {refund_id: 'RF-7781', amount: 20, ok: true, notes: ['sent to jo@example.com', null], nested: {k: 'AKIAIOSFODNN7EXAMPLE'}}
    const out = r.redactValue(value) as typeof value
    expect(out.refund_id).toBe('RF-7781')
    expect(out.amount).toBe(20)
    expect(out.ok).toBe(true)
    expect(out.notes[0]).toMatch(/^sent to \[REDACTED:email:[0-9a-f]{8}\]$/)
    expect(out.notes[1]).toBeNull()
    expect(out.nested.k).toMatch(/^\[REDACTED:aws_key:/)
  })
})
