import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {ibanValid} from '../../src/runtime/guardrails/patterns.js'
import {createRedactor, redactionMarker, storedRequestId} from '../../src/runtime/redact.js'

/**
 * The detectors behind the redactor, each with the shapes it must take and the look-alikes it must
 * leave alone (our own hashes and ids, dates, amounts, order numbers).
 */

const r = createRedactor()
const hash8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8)

/** Every shape found where it stands in prose, as one marker of its kind, the prose around it kept. */
function expectRedacted(kind: string, secrets: string[]): void {
  for (const secret of secrets) {
    const out = r.redactText(`Note: ${secret} (end).`)
    expect(out, secret).toMatch(new RegExp(`^Note: \\[REDACTED:${kind}:[0-9a-f]{8}\\] \\(end\\)\\.$`))
  }
}

function expectKept(texts: string[]): void {
  for (const text of texts) expect(r.redactText(text), text).toBe(text)
}

const SHA256_HEX = createHash('sha256').update('bundle').digest('hex')
const SHA1_HEX = createHash('sha1').update('commit').digest('hex')

describe('AWS secret access key standing alone', () => {
  it('takes 40 base64 characters of mixed case with digits, a random spread and a / or + or second digit', () => {
    expectRedacted('aws_secret', [
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'Zk3q9Lm2Xv8Rt+Yb6Nc1Wd4Hs7Jp0Gf5Ae2Qo9Ui',
      'Zk3q9Lm2Xv8RtQYb6Nc1Wd4Hs7Jp0Gf5Ae2Qo9Ui',
    ])
    expect(r.redactText('aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe(
      `aws_secret_access_key=${redactionMarker('aws_secret', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')}`,
    )
  })

  it('leaves hex digests (ours included), longer or shorter runs, words run together and ordinary ids alone', () => {
    expectKept([
      `bundle hash ${SHA256_HEX}`,
      `commit ${SHA1_HEX} and ${SHA1_HEX.toUpperCase()}`,
      `support@1.0.0#${SHA256_HEX.slice(0, 12)}`,
      'blob wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYx (41) and JalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY (39)',
      'identifiers AbstractSingletonProxyFactoryBean2Handle, ThisIsAVeryLongCamelCaseIdentifierabcd, path src/runtime/guardrails/Patterns2/redact/',
      'ids req-000054 r20261125T143012-3fa9c1 123e4567-e89b-12d3-a456-426614174000 01ARZ3NDEKTSV4RRFFQ69G5FAV idem-0e7c38548b461131e376',
      `base64 digest ${createHash('sha256').update('y').digest('base64')}`,
    ])
  })
})

describe('IBAN', () => {
  it('takes IBANs plain and in groups of four, hashing both forms alike', () => {
    expectRedacted('iban', ['GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'DE89 3704 0044 0532 0130 00', 'FR1420041010050500013M02606', 'NO9386011117947'])
    const plain = r.redactText('GB82WEST12345698765432')
    expect(r.redactText('GB82 WEST 1234 5698 7654 32')).toBe(plain)
    expect(plain).toBe(redactionMarker('iban', 'GB82WEST12345698765432'))
  })

  it('cuts an IBAN at its country length, keeping what follows', () => {
    expect(r.redactText('pay GB82 WEST 1234 5698 7654 32 ABCD now')).toBe(`pay ${redactionMarker('iban', 'GB82WEST12345698765432')} ABCD now`)
  })

  it('checks the mod-97 digits and the country, and leaves longer tokens and look-alikes alone', () => {
    expect(ibanValid('GB82WEST12345698765432')).toBe(true)
    expect(ibanValid('GB83WEST12345698765432')).toBe(false)
    expectKept([
      'GB83 WEST 1234 5698 7654 32',
      'GB82WEST12345698765432XY',
      'ZZ82WEST12345698765432',
      'SKU AB12CD34EF56GH78 and order ORD-100234',
      'gb82west12345698765432',
    ])
  })
})

describe('phone numbers', () => {
  it('takes international and North American forms', () => {
    expectRedacted('phone', [
      '+44 20 7946 0958',
      '+1-202-555-0143',
      '+12025550143',
      '+44 (0)20 7946 0958',
      '+33 1 23 45 67 89',
      '(202) 555-0143',
      '(202)555-0143',
      '202-555-0143',
      '202.555.0143',
      '1-202-555-0143',
    ])
  })

  it('hashes the digits, so one number written two ways compares equal', () => {
    expect(r.redactText('+44 20 7946 0958')).toBe(r.redactText('+442079460958'))
    expect(r.redactText('202-555-0143')).toBe(r.redactText('(202) 555-0143'))
  })

  it('leaves dates, times, amounts, order ids, versions and addresses alone', () => {
    expectKept([
      'placed 2024-05-01, due 2024-05-01T10:00:00Z, offset +05:30 and +0100',
      'total $1,234,567.89, change +15.5%, +12 34 56 (six digits), sizes 250 500 1000',
      'order ORD-202-555-0143, ticket #48213, ref 2025550143, sku A-1002-XL',
      'version v1.202.555.0143, host 192.168.100.200, 10.0.0.5',
      'no area code starts with 1: 123-456-7890',
      'range 2020-2024, count 1500 tokens, +2024-05-01',
    ])
  })
})

describe('password in a connection URL', () => {
  it('takes the password whatever the host, keeping scheme, user and host', () => {
    expect(r.redactText('postgres://svc:S3cr3t-pw@10.0.0.5/app')).toBe(`postgres://svc:${redactionMarker('url_password', 'S3cr3t-pw')}@10.0.0.5/app`)
    expect(r.redactText('mysql://root:hunter2@db.internal:3306/x')).toBe(`mysql://root:${redactionMarker('url_password', 'hunter2')}@db.internal:3306/x`)
    expect(r.redactText('redis://:p@ss@10.1.2.3:6379')).toBe(`redis://:${redactionMarker('url_password', 'p@ss')}@10.1.2.3:6379`)
  })

  it('leaves URLs without a password alone', () => {
    expectKept(['https://example.com:8080/path?q=1', 'https://example.com/@user', 'see http://10.0.0.5/app', 'git://host/repo.git'])
  })
})

describe('credentials in key: value pairs', () => {
  it('takes the value, not a key that follows the key', () => {
    expect(r.redactText('password: password: hunter22')).toBe(`password: password: ${redactionMarker('credential', 'hunter22')}`)
    expect(r.redactText('token=tokenAbc123')).toBe(`token=${redactionMarker('credential', 'tokenAbc123')}`)
  })
})

describe('private keys', () => {
  it('takes a whole key, and a key cut short up to the end of its base64 lines', () => {
    expect(r.redactText('-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAKCA==\n-----END RSA PRIVATE KEY----- after')).toMatch(/^\[REDACTED:private_key:[0-9a-f]{8}\] after$/)
    expect(r.redactText('-----BEGIN PRIVATE KEY-----\nMIIEow\nAKCA==\nnot base64!')).toMatch(/^\[REDACTED:private_key:[0-9a-f]{8}\] base64!$/)
    expectKept(['-----BEGIN PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\n'])
  })
})

describe('values that are not strings, and object keys', () => {
  it('redacts a card number held as a JSON number, as its digits would be', () => {
    const out = r.redactValue({card: 4111111111111111, amount: 20, ts: 1714557600001, big: 4111111111111112, nested: [5500000000000004]}) as Record<string, unknown>
    expect(out.card).toBe(r.redactText('4111111111111111'))
    expect(out.card).toBe(`[REDACTED:card:${hash8('4111111111111111')}]`)
    expect(out.nested).toEqual([r.redactText('5500000000000004')])
    // Not Luhn-valid, or too short to be a card: kept as numbers.
    expect([out.amount, out.ts, out.big]).toEqual([20, 1714557600001, 4111111111111112])
  })

  it('redacts object keys like any text, in values and in arguments with sensitive paths', () => {
    const key = 'sk-live-Zq81mNw4Rt6Yb2Xc9Vf3'
    const value = {[key]: {note: 'x'}, 'jo@example.com': 1, plain: 2}
    const out = r.redactValue(value) as Record<string, unknown>
    expect(Object.keys(out)).toEqual([r.redactText(key), r.redactText('jo@example.com'), 'plain'])
    expect(JSON.stringify(out)).not.toContain(key)
    const args = r.redactArgs({card: {[key]: 'v'}, note: 'n'}, ['note'])
    expect(args).toEqual({card: {[r.redactText(key)]: 'v'}, note: redactionMarker('field', 'n')})
  })

  it('puts back the secrets a source holds in the clear, and only those', () => {
    const source = {messages: [{content: 'card 4111 1111 1111 1111, mail jo@example.com'}], n: 5500000000000004}
    const redacted = r.redactValue({a: 'to jo@example.com', b: 5500000000000004, c: 'other@example.com', d: '4111 1111 1111 1111'})
    expect(r.restoreFrom(redacted, source)).toEqual({a: 'to jo@example.com', b: 5500000000000004, c: r.redactText('other@example.com'), d: '4111 1111 1111 1111'})
  })
})

describe('request ids', () => {
  it('stores an id holding a secret as its marker: stable, idempotent, distinct per secret; ordinary ids as they are', () => {
    const a = storedRequestId('sk-live-Zq81mNw4Rt6Yb2Xc9Vf3')
    const b = storedRequestId('sk-live-Zq81mNw4Rt6Yb2Xc9Vf4')
    expect(a).toMatch(/^\[REDACTED:api_key:[0-9a-f]{8}\]$/)
    expect(a).not.toBe(b)
    expect(storedRequestId('sk-live-Zq81mNw4Rt6Yb2Xc9Vf3')).toBe(a)
    expect(storedRequestId(a)).toBe(a)
    expect(storedRequestId('jo@example.com#2')).toBe(`${r.redactText('jo@example.com')}#2`)
    for (const id of ['req-000054', 'req-000054#line7', 'line-12', '9f2c1a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b']) expect(storedRequestId(id)).toBe(id)
  })
})
