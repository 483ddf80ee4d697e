import {describe, expect, it} from 'vitest'
import {BUILTIN_INJECTION_PATTERNS, compileInjectionMatcher} from '../../src/runtime/guardrails/patterns.js'

/**
 * Every shipped injection pattern must run in linear time: a tool result or document is attacker
 * text, and a regex that backtracks catastrophically on it stalls the whole replay. Each pattern
 * runs over 200 KB inputs built to provoke backtracking: one long word, whitespace and newline
 * runs, and the opening words of the patterns repeated without ever completing a match.
 */
const SIZE = 200_000
const fill = (unit: string): string => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE)

const PARTIALS = [
  'ignore all previous ',
  'ignore any previous and ',
  'ignore all other rules and ',
  'disregard all the ',
  'you are now ',
  'from now on, ',
  'your system ',
  'reveal your hidden ',
  'print the full ',
  'BEGIN ',
  '[SYSTEM ',
  '[ADMIN NOTE',
  '<|im_start',
  '### (system',
  '[system](',
  'pretend you are ',
  'DAN ',
  'assistant is now ',
  'unrestricted ',
  'not restricted by the ',
  '<!-- ',
  'send ',
  'send the data to my ',
  'email it to my alternate email address, ',
  'send it to my email',
  'forward them to the mail address',
  'to a@b',
  'to http',
  'system : ',
  '\nsystem',
  '<INFORMATION',
  '<',
  'from me, ',
  'to you, the ',
  'if you are an ',
  'note to the AI ',
  'task that I gave you ',
  'strictly adhere to the following ',
  'strictly follow the instructions in this ',
  'without asking ',
  'do not tell the ',
  'just print ',
  'stop ',
  'modify ',
  'add ',
  'in any of your ',
  'a@',
  '@a.',
]

const HOSTILE: [string, string][] = [
  ['one long word', fill('a')],
  ['one long word of digits', fill('7')],
  ['spaces', fill(' ')],
  ['newlines', fill('\n')],
  ['mixed whitespace', fill(' \t\n')],
  ['dots', fill('.')],
  ...PARTIALS.map((p): [string, string] => [`repeated ${JSON.stringify(p)}`, fill(p)]),
  ...PARTIALS.map((p): [string, string] => [`${JSON.stringify(p)} then spaces`, p + fill(' ').slice(p.length)]),
]

/** Generous: a linear scan of 200 KB takes a few milliseconds; a quadratic one takes minutes. */
const LIMIT_MS = 1500

describe('injection patterns run in linear time', () => {
  it.each(BUILTIN_INJECTION_PATTERNS.map((p, i) => [`${i}:${p.id}`, p] as const))('%s', (_name, p) => {
    const re = new RegExp(p.source, p.flags)
    for (const [what, text] of HOSTILE) {
      const start = performance.now()
      re.test(text)
      const ms = performance.now() - start
      expect(ms, `${p.id} on ${what}: ${ms.toFixed(0)} ms`).toBeLessThan(LIMIT_MS)
    }
  })

  it('and so does the combined screen, in both scopes', () => {
    const match = compileInjectionMatcher()
    for (const [what, text] of HOSTILE) {
      for (const where of ['input', 'document'] as const) {
        const start = performance.now()
        match(text, where)
        const ms = performance.now() - start
        expect(ms, `${where} on ${what}: ${ms.toFixed(0)} ms`).toBeLessThan(LIMIT_MS)
      }
    }
  })
})
