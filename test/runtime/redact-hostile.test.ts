import {describe, expect, it} from 'vitest'
import {hostileTexts} from '../../bench/redact.js'
import {createRedactor} from '../../src/runtime/redact.js'

/**
 * Redaction stays linear on hostile text. A pass that rescans the rest of the text from each
 * occurrence of a pattern's start (as BEGIN PRIVATE KEY lines without an END once did: 1 MB took
 * 10.7 s) is far past the bound here; a linear one takes a few tens of milliseconds (`npm run
 * bench`, redact_hostile_1mb_ms). The bound is generous for a loaded machine.
 */
const BOUND_MS = 500
const texts = hostileTexts(1 << 20)

describe('redaction of 1 MiB of hostile text', () => {
  // Compiled once on small inputs first, as in any run past its first requests.
  const warm = createRedactor()
  for (const text of Object.values(texts)) warm.redactText(text.slice(0, 4096))

  it.each(Object.keys(texts))('%s stays under the bound', (name) => {
    const text = texts[name]!
    const redactor = createRedactor()
    const t0 = performance.now()
    const out = redactor.redactText(text)
    const ms = performance.now() - t0
    expect(ms).toBeLessThan(BOUND_MS)
    expect(out.length).toBeGreaterThan(0)
  })

  it('a key cut short among hostile lines is still found', () => {
    const text = `${texts.begin_lines!.slice(0, 100_000)}-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n`
    const out = createRedactor().redactText(text)
    expect(out).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')
    expect(out).toMatch(/\[REDACTED:private_key:[0-9a-f]{8}\]\n$/)
  })
})
