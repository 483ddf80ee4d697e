import {describe, expect, it} from 'vitest'
import {mulberry32} from '../../scenarios/lib/prng.js'
import {
  detectPii,
  mayHoldSecret,
  maySecretMatch,
  NO_SECRET,
  secretShape,
  PII_PATTERNS,
  SECRET_PATTERNS,
  SHAPE_BASE64_RUN,
  SHAPE_CARD_DIGITS,
  SHAPE_IBAN,
  SHAPE_PHONE,
  SHAPE_SSN_DIGITS,
  SHAPE_PHONE_DIGITS,
  shapeAllows,
  textShape,
} from '../../src/runtime/guardrails/patterns.js'
import {createRedactor, redactionMarker} from '../../src/runtime/redact.js'
import {shippedTrafficStrings} from '../factories/index.js'

// Pieces of cards, phones, SSNs, IBANs and base64 runs, whole and cut, and what sits between them.
const PIECES = [
  '1', '12', '123', '1234', '4111', '1111', '555', '0143', '202', '2025550143', '12025550143', '4111111111111111',
  '4111 1111 1111 1111', '4111-1111-1111-1111', '4111 1111-1111 1111', '3782 822463 10005', '378282246310005',
  '123-45-6789', '078-05-1120', '123 45 6789', '(202) 555-0143', '(202)555-0143', '1 (202) 555-0143', '202.555.0143',
  '202-555-0143', '1-202-555-0143', '+44 20 7946 0958', '+44 (0)20 7946 0958', '+14155550123', '+1', '+0', '+', '+ 1',
  'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000', 'DE89 3704 0044 0532 0130 00',
  'NO9386011117947', 'NO93 8601 1117 947', 'GB82', 'GB8', 'ORD-', 'RF-ECFA7CF75D', 'AB12CD34EF56GH78',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG', 'A'.repeat(20), 'a1'.repeat(10),
  ' ', '-', '--', '.', '(', ')', ') ', '/', '_', ':', ',', 'x', 'Z', 'word', ' and ', '\n', '\t', '\u00a0', '\u2003', '\u3000', ' (', ' - ',
]
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+'

/** Texts built from the pieces and from base64 runs of every length around 40. */
function generated(seed: number, count: number): string[] {
  const rng = mulberry32(seed)
  const texts: string[] = []
  for (let i = 0; i < count; i++) {
    let text = ''
    const parts = rng.int(1, 8)
    for (let p = 0; p < parts; p++) {
      if (rng.int(0, 9) === 0) {
        const n = rng.int(30, 46)
        for (let k = 0; k < n; k++) text += BASE64[rng.int(0, BASE64.length - 1)]
      } else text += rng.pick(PIECES)
    }
    texts.push(text)
  }
  return texts
}

/** Whether `re` matches anywhere in `text` (a copy without `g`, made once per regex, so no lastIndex carries over). */
const once = new Map<RegExp, RegExp>()
const matches = (re: RegExp, text: string): boolean => {
  let own = once.get(re)
  if (own === undefined) once.set(re, (own = new RegExp(re.source, re.flags.replace('g', ''))))
  return own.test(text)
}

describe('textShape (what a secret pattern needs before it is run)', () => {
  const texts = [...generated(7, 40_000), ...shippedTrafficStrings()]

  it('reports what every shaped pattern needs on every text the pattern matches', () => {
    const shaped = SECRET_PATTERNS.filter((p) => p.needs !== undefined)
    expect(shaped.map((p) => p.kind).sort()).toEqual(['aws_secret', 'card', 'iban', 'phone', 'ssn'])
    const hits = new Map<string, number>()
    for (const text of texts) {
      const shape = textShape(text)
      for (const p of shaped) {
        if (!matches(p.re, text)) continue
        hits.set(p.kind, (hits.get(p.kind) ?? 0) + 1)
        if (!shapeAllows(shape, p)) expect.fail(`${p.kind} matches ${JSON.stringify(text)}, shape ${shape}`)
      }
    }
    // Every pattern matched often enough for the check to mean something.
    for (const p of shaped) expect(hits.get(p.kind) ?? 0, p.kind).toBeGreaterThan(500)
  })

  it("reports a phone chain or a card chain on every text detectPii's phone or card form matches", () => {
    let phones = 0
    let cards = 0
    for (const text of texts) {
      const shape = textShape(text)
      if (matches(PII_PATTERNS.phone, text)) {
        phones++
        expect(shape & SHAPE_PHONE_DIGITS, JSON.stringify(text)).not.toBe(0)
      }
      if (matches(PII_PATTERNS.card, text)) {
        cards++
        expect(shape & SHAPE_CARD_DIGITS, JSON.stringify(text)).not.toBe(0)
      }
    }
    expect(phones).toBeGreaterThan(500)
    expect(cards).toBeGreaterThan(500)
  })

  it('maySecretMatch: false for a text the screen takes only where no secret pattern matches it (short ids with digits)', () => {
    const words = ['key', 'Token', 'sk-', 'AKIA', 'ghp_', 'xoxb-', 'eyJ', 'bearer', 'passw', 'pwd', '@', '://', '+4', 'ORD-', 'TCK-', 'T', 'Z', ':']
    const rng = mulberry32(11)
    const short: string[] = []
    for (let i = 0; i < 40_000; i++) {
      let text = ''
      const parts = rng.int(1, 5)
      for (let p = 0; p < parts; p++) text += rng.int(0, 2) === 0 ? rng.pick(words) : rng.pick(PIECES)
      short.push(text.slice(0, rng.int(4, 39)))
    }
    let refined = 0
    for (const text of [...short, ...texts]) {
      // What the screen itself lets go (mayHoldSecret false) is as before; here, what this adds to it.
      if (maySecretMatch(text) || !mayHoldSecret(text)) continue
      refined++
      const hit = SECRET_PATTERNS.find((p) => matches(p.re, text))
      if (hit !== undefined) expect.fail(`${hit.kind} matches ${JSON.stringify(text)}`)
    }
    // Texts the screen alone would have sent to the patterns (three digits in a row) are settled here.
    expect(refined).toBeGreaterThan(3000)
    for (const id of ['ORD-100021', 'TCK-48213', '2025-07-01T00:00:10Z', 'req-000001', 'amount 92.13']) expect(maySecretMatch(id), id).toBe(false)
    for (const hit of ['4111111111111', '078-05-1120', '202-555-0143', 'call +44', 'NO9386011117947', 'api_key=1']) expect(maySecretMatch(hit), hit).toBe(true)
  })

  it('secretShape: NO_SECRET only for a text no secret pattern matches, long ones included', () => {
    const words = ['key', 'Token', 'sk-', 'AKIA', 'ghp_', 'xoxb-', 'eyJ', 'bearer', 'passw', 'pwd', '@', '://', '+4', ' order ', 'I have issued a refund of $92.13 for ']
    const rng = mulberry32(12)
    let settled = 0
    for (let i = 0; i < 30_000; i++) {
      let text = ''
      const parts = rng.int(1, 10)
      for (let p = 0; p < parts; p++) text += rng.int(0, 3) === 0 ? rng.pick(words) : rng.pick(PIECES)
      if (secretShape(text) !== NO_SECRET) continue
      settled++
      const hit = SECRET_PATTERNS.find((p) => matches(p.re, text))
      if (hit !== undefined) expect.fail(`${hit.kind} matches ${JSON.stringify(text)}`)
    }
    expect(settled).toBeGreaterThan(1500)
    expect(secretShape('I have issued a refund of $92.13 for order ORD-100021 (refund RF-ECFA7CF75D). It usually appears within 5-10 business days.')).toBe(NO_SECRET)
    expect(secretShape('the api key is in the vault; order ORD-100021')).not.toBe(NO_SECRET)
  })

  it('leaves out the patterns a text of ids, amounts and dates cannot hold', () => {
    const none = textShape('I have issued a refund of $92.13 for order ORD-100021 (refund RF-ECFA7CF75D) on 2025-07-01T00:00:10Z.')
    expect(none).toBe(0)
    expect(textShape('x'.repeat(39)) & SHAPE_BASE64_RUN).toBe(0)
    expect(textShape('x'.repeat(40)) & SHAPE_BASE64_RUN).not.toBe(0)
    expect(textShape('card 4111 1111 1111 1111') & SHAPE_CARD_DIGITS).not.toBe(0)
    expect(textShape('4111  1111 1111 1111') & SHAPE_CARD_DIGITS).toBe(0)
    expect(textShape('ssn 078-05-1120') & SHAPE_SSN_DIGITS).not.toBe(0)
    expect(textShape('call +4 then') & SHAPE_PHONE).not.toBe(0)
    expect(textShape('call +0 then') & SHAPE_PHONE).toBe(0)
    expect(textShape('1 (202) 555-0143') & SHAPE_PHONE_DIGITS).not.toBe(0)
    expect(textShape('202\u2003555\u00a00143') & SHAPE_PHONE_DIGITS).not.toBe(0)
    expect(textShape('202 :555-0143') & SHAPE_PHONE_DIGITS).toBe(0)
    expect(textShape('202 - 555-0143') & SHAPE_PHONE).toBe(0)
    expect(textShape('iban NO9386011117947') & SHAPE_IBAN).not.toBe(0)
    expect(textShape('iban NO938601111794') & SHAPE_IBAN).toBe(0)
  })

  it('redacts and detects as the unshaped patterns do', () => {
    // The same text scanned pattern by pattern with no shape check: what the redactor gave before.
    const plain = (text: string): string => {
      let out = text
      for (const p of SECRET_PATTERNS) {
        const re = new RegExp(p.re.source, p.re.flags)
        let next = ''
        let last = 0
        if (p.hint !== undefined && !p.hint.some((h) => out.includes(h))) continue
        for (let m = re.exec(out); m !== null; m = re.exec(out)) {
          const kept = p.keep ? m[1]!.length : 0
          const secret = m[0].slice(kept)
          if (p.confirm && !p.confirm(secret)) continue
          next += out.slice(last, m.index + kept) + redactionMarker(p.kind, p.canonical ? p.canonical(secret) : secret)
          last = m.index + kept + secret.length
        }
        if (last > 0) out = next + out.slice(last)
      }
      return out
    }
    const redactor = createRedactor()
    let redacted = 0
    for (const text of texts.slice(0, 20_000)) {
      const want = plain(text)
      const got = redactor.redactText(text)
      if (want !== text) redacted++
      expect(got, JSON.stringify(text)).toBe(want)
    }
    expect(redacted).toBeGreaterThan(2000)
    expect(detectPii('call (202) 555-0143 or pay with 4111 1111 1111 1111').sort()).toEqual(['card', 'phone'])
  })
})
