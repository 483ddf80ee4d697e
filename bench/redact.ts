import {createRedactor} from '../src/runtime/redact.js'

/**
 * Redaction of hostile text: inputs built to make a backtracking pattern pass rescan the text,
 * each about `bytes` long. Every one starts with a few characters that pass the redactor's cheap
 * screen, so the pattern pass itself is what is measured. test/runtime/redact-hostile.test.ts
 * guards the same shapes against a quadratic pass.
 */
export function hostileTexts(bytes = 1 << 20): Record<string, string> {
  const fill = (unit: string): string => 'ref 123 x@y.io ' + unit.repeat(Math.ceil(bytes / unit.length))
  return {
    begin_lines: fill('-----BEGIN PRIVATE KEY-----\n'),
    begin_rsa_lines: fill('-----BEGIN RSA PRIVATE KEY-----\r\n'),
    digit_run: fill('7'),
    spaced_digits: fill('4 '),
    base64_run: fill('aB3+'),
    base64_slashes: fill('Zk3q9Lm2/'),
    at_run: fill('@'),
    colon_run: fill(':'),
    at_words: fill('a@'),
    url_userinfo: fill('a://u:'),
    url_at: 'ref 123 db://u:' + '@'.repeat(bytes),
    iban_groups: fill('GB82 '),
    plus_groups: fill('+1 '),
    dotted: fill('a.'),
    bearer_words: fill('Bearer '),
    key_words: fill('password: '),
  }
}

export type HostileResult = {worst_ms: number; worst: string; times: Record<string, number>}

/**
 * Wall time of one redactText per hostile text (best of `rounds`), after a warm-up pass over the
 * first few kilobytes of each (the patterns compiled, as in any run past its first requests).
 */
export function measureRedactHostile(bytes = 1 << 20, rounds = 5): HostileResult {
  const texts = hostileTexts(bytes)
  const warm = createRedactor()
  for (const text of Object.values(texts)) warm.redactText(text.slice(0, 4096))
  const times: Record<string, number> = {}
  for (const [name, text] of Object.entries(texts)) {
    let best = Infinity
    for (let i = 0; i < rounds; i++) {
      const redactor = createRedactor()
      const t0 = performance.now()
      redactor.redactText(text)
      best = Math.min(best, performance.now() - t0)
    }
    times[name] = best
  }
  const [worst, worst_ms] = Object.entries(times).reduce((a, b) => (b[1] > a[1] ? b : a))
  return {worst_ms, worst, times}
}
