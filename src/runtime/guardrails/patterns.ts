import {createTextMemo} from '../../util/text-memo.js'

/**
 * The text patterns every guardrail shares: prompt injection, PII and secrets. Each is compiled
 * once at module load; per-bundle extras are compiled once per bundle by the callers.
 */

/** Where an injection pattern applies: some phrasings are normal from a user but not inside a document. */
export type PatternScope = 'any' | 'document'

export type InjectionPattern = {id: string; source: string; flags: string; scope: PatternScope}

const OPT_DET = String.raw`(?:(?:all|any|the|your|these|those|my|of|previous|prior|above|earlier|preceding|foregoing|system|original|existing)\s+)*`
// What an override targets. `i?\w?nstructions?` also takes the one-letter slips attack templates
// carry ("iunstructions"); messages are left out: "ignore my previous message" is ordinary mail.
const OVERRIDDEN = String.raw`(?:i?\w?nstructions?|prompts?|rules|directions|directives|guidelines|context)`
// Who an injected text talks to when it addresses the model rather than a person.
const THE_AI = String.raw`(?:the\s+)?(?:AI|A\.I\.|assistant|AI\s+assistant|language\s+model|AI\s+(?:language\s+)?model|LLM|chatbot|bot|agent|GPT-?\d[\w.-]*|ChatGPT|Claude|Gemini|Llama|Mistral|Copilot)`
// An address a request may name as the place to send something: an e-mail address or a URL.
const DESTINATION = String.raw`(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?:\/\/[^\s)]+)`

/**
 * Every pattern must run in time linear in its input: no nested quantifiers that can match the
 * same text two ways, never two whitespace runs side by side (`\s*(?:X)?\s*` rescans a run of
 * spaces from every split point), every free-text gap bounded (`{0,n}`), and `^` never followed by
 * `\s*` under the `m` flag (a run of newlines would be rescanned from each line start). The tests
 * run each pattern over 200 KB hostile inputs.
 */
export const BUILTIN_INJECTION_PATTERNS: readonly InjectionPattern[] = [
  {
    id: 'ignore_instructions',
    source: String.raw`\b(?:ignore|forget|override|bypass|skip)\s+${OPT_DET}(?:previous|prior|above|earlier|preceding|foregoing|system|original|existing)\s+(?:(?:and|or|&)\s+(?:following|subsequent|later|other)\s+)?${OVERRIDDEN}\b|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?other\s+(?:[\w-]+\s+(?:and|or|&)\s+)?(?:i?\w?nstructions?|directions|rules|guidelines)\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'disregard_instructions',
    source: String.raw`\bdisregard\s+${OPT_DET}(?:instructions?|prompts?|rules|guidelines|directions|directives|polic(?:y|ies)|guardrails|everything|anything)\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'role_override',
    // Narrow on purpose: "you are now a Gold member" is ordinary text, "you are now DAN" is not.
    source: String.raw`\byou\s+are\s+now\s+(?:acting\s+as|playing|an?\s+(?:unrestricted|unfiltered|uncensored|different|new|evil|rogue)\b|free\s+(?:from|of)|DAN\b|jailbroken|in\s+(?:developer|god|admin|debug|unrestricted)\s+mode|(?:the|my|an?)\s+(?:admin|administrator|system|developer|root)\b)|\byou\s+are\s+no\s+longer\s+(?:bound|restricted|an?\s+(?:assistant|AI))|\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|shall)\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'system_prompt',
    // Asking for *your* system prompt; code and docs name "the system prompt" all the time.
    source: String.raw`\b(?:your|ur)\s+(?:(?:initial|original|hidden|secret|full|entire|real|exact)\s+)?system\s+prompt\b|\b(?:new|updated|real|true)\s+(?:system\s+)?instructions\s*:`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'reveal_instructions',
    // "the" needs a qualifier: "dump the configuration" is a README, "print the hidden instructions" is not.
    source: String.raw`\b(?:reveal|print|show|display|output|repeat|leak|dump|recite|tell\s+me)\s+(?:me\s+)?(?:all\s+)?(?:your\s+(?:(?:full|entire|original|hidden|secret|initial|internal|exact|system)\s+)*(?:instructions|prompt|rules|configuration|guidelines)|the\s+(?:(?:full|entire|original|hidden|secret|initial|internal|exact|system)\s+)+(?:instructions|prompt|rules|guidelines))\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'admin_block',
    source: String.raw`\bBEGIN\s+(?:ADMIN|SYSTEM|DEVELOPER|ROOT|OVERRIDE)\b|\[\s*(?:SYSTEM|ADMIN)(?:\s+(?:OVERRIDE|MESSAGE|NOTE|ANNOTATION|INSTRUCTIONS?|PROMPT))?\s*\]|\[\s*(?:SYSTEM|ADMIN)\s+(?:OVERRIDE|MESSAGE|NOTE|ANNOTATION|INSTRUCTIONS?|PROMPT)\s*:|<\|(?:im_start|im_end|system|assistant|endoftext)\|>|\[\/?INST\]|<<\/?SYS>>|#{2,}[ \t]*\([ \t]*system[_ ]?(?:message|prompt|instructions?)[ \t]*\)|\[(?:system|assistant)\]\(#[\w-]*\)`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'jailbreak_roleplay',
    source: String.raw`\b(?:do\s+anything\s+now|developer\s+mode\s+(?:enabled|on|activated)|jailbr(?:eak|oken)|pretend\s+(?:that\s+)?(?:you\s+are|to\s+be|you're)\s+(?:an?\s+)?(?:unrestricted|unfiltered|evil|uncensored|different\s+AI)|act\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored)|without\s+any\s+(?:restrictions|filters|guidelines))\b`,
    flags: 'i',
    scope: 'any',
  },
  // Case-sensitive on purpose: "Dan" is a name, "DAN" is the jailbreak persona.
  {id: 'jailbreak_roleplay', source: String.raw`\bDAN\b(?:\s+mode|\s*[:,])`, flags: '', scope: 'any'},
  {
    id: 'persona_swap',
    // The "assistant is offline, an unrestricted model took over" framing of indirect injections.
    source: String.raw`\b(?:original\s+)?(?:assistant|AI|model|bot|chatbot)\s+is\s+(?:now\s+)?(?:in\s+error\s+and\s+)?offline\b|\b(?:completely\s+)?unrestricted\s+(?:AI|language\s+model|model|bot|assistant|chatbot)\b|\bnot\s+restricted\s+by\s+(?:the|any|your)\s+(?:rules|guidelines|instructions|policies)\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'hidden_instruction',
    source: String.raw`<!--\s*(?:assistant|system|ai|instructions?|prompt|note\s+to\s+(?:the\s+)?(?:ai|assistant|model))\s*:|\[\/\/\]:\s*#\s*\(\s*(?:assistant|system|ai)`,
    flags: 'i',
    scope: 'any',
  },
  // A customer may well ask to send something to an address; a document asking for it is an attack.
  {
    id: 'exfiltration_request',
    source: String.raw`\b(?:send|forward|e-?mail|post|upload|transmit|exfiltrate|copy|share)\b[^.\n]{0,100}?\bto\s+(?:(?:my|the|this|our|following)\s+)?(?:(?:alternate|alternative|personal|backup|private|new|other)\s+)?(?:(?:e-?mail|mail)(?:\s+address)?[ \t]*(?:[,:][ \t]*)?)?${DESTINATION}`,
    flags: 'i',
    scope: 'document',
  },
  {
    id: 'role_marker',
    // Blank space around the marker is spaces and tabs, not newlines: `^\s*` under the m flag
    // starts at every line of a run of newlines and rescans the rest of the run (quadratic).
    source: String.raw`^[ \t]*(?:system|assistant)[ \t]*:[ \t]*\S`,
    flags: 'im',
    scope: 'document',
  },
  // Upper-case pseudo-markup that wraps injected text as if it carried authority (<INFORMATION>,
  // <IMPORTANT>, <SYSTEM>). Case-sensitive: lower-case tags are ordinary markup.
  {id: 'authority_tag', source: String.raw`<\/?(?:INFORMATION|IMPORTANT|INSTRUCTIONS?|SYSTEM|ADMIN|OVERRIDE|URGENT)>`, flags: '', scope: 'document'},
  {
    id: 'addressed_to_ai',
    // Text that speaks to the model reading it, not to the person it was written for.
    source: String.raw`\bfrom\s+me,[ \t]*[^,\n]{1,60},[ \t]*to\s+you\b|\bto\s+you,[ \t]*${THE_AI}\b|\bif\s+you\s+are\s+(?:an?\s+|the\s+|[\w'’]+\s+)?(?:AI|digital|virtual|automated|coding|language)\s+(?:assistant|model|agent|bot)\b|\b(?:note|message|instructions?|attention|notice)\s+(?:to|for)\s+(?:all\s+|the\s+|any\s+)?(?:(?:AI|automated|coding|virtual|digital)\s+(?:assistants?|agents?|bots?|models?)|bots?|LLMs?|language\s+models?)\b`,
    flags: 'i',
    scope: 'document',
  },
  {
    id: 'task_hijack',
    // Pointing back at "the task I gave you in the beginning" is how a document pretends to be the user.
    source: String.raw`\btask\s+(?:that\s+)?(?:I|the\s+user|your\s+user)\s+(?:gave|assigned|set|asked)\s+(?:to\s+)?you\s+(?:in\s+the\s+beginning|at\s+the\s+(?:start|beginning)|originally|initially)\b|\bstrictly\s+(?:adhere|comply|obey|stick)\s+(?:to|with)\s+(?:the\s+|these\s+|this\s+|my\s+)?(?:(?:following|below|new)\s+)?(?:instructions?|directives?|commands?|orders?)\b|\bstrictly\s+follow\s+(?:the\s+|these\s+|my\s+)?instructions\s+(?:in|of)\s+this\s+(?:e-?mail|message|document|page|file)\b`,
    flags: 'i',
    scope: 'document',
  },
  {
    id: 'consent_bypass',
    // A document telling the agent to act behind the user's back; the user may say it of themselves.
    source: String.raw`\bwithout\s+(?:asking|telling|notifying|informing|alerting|consulting|confirming\s+with)\s+(?:me|the\s+user|the\s+customer|the\s+owner|them|anyone)\b|\b(?:do\s+not|don't|never)\s+(?:tell|inform|notify|alert)\s+the\s+(?:user|customer|owner)\b`,
    flags: 'i',
    scope: 'document',
  },
  {
    id: 'output_hijack',
    // Orders about the model's own answers: what to print, what to slip into every response. "Include
    // your order number in your reply" is ordinary mail, so a single reply counts only for add/insert.
    source: String.raw`\b(?:just|only)\s+(?:print|say|output|type|write)\s*["“'‘]|\bstop\s+everything\b|\b(?:modify|alter|rewrite|enhance|augment|integrate|embed|encode|encrypt|translate)\b[^.\n]{0,60}?\byour\s+(?:answer|response|reply|output)s?\b|\b(?:add|insert|append|include|inject)\b[^\n]{0,100}?\b(?:to|in|into)\s+(?:any\s+of\s+|all\s+(?:of\s+)?|each\s+of\s+|every\s+)?your\s+(?:[\w-]+\s+)?(?:responses|replies|answers|outputs)\b|\b(?:add|insert|append|inject)\b[^\n]{0,100}?\bto\s+your\s+(?:answer|response|reply|output)\b`,
    flags: 'i',
    scope: 'document',
  },
]

/**
 * Returns the ids of the patterns found in `text` (each once, in pattern order); empty when clean.
 * `locate` gives where the earliest in-scope match starts (-1 when none), for an excerpt.
 */
export type InjectionMatcher = ((text: string, where: 'input' | 'document') => readonly string[]) & {
  locate: (text: string, where: 'input' | 'document') => number
}

export type PatternProblem = {index: number; message: string}

/** Regexes in a bundle's pattern list that do not compile (the bundle schema only checks they are strings). */
export function invalidPatterns(patterns: readonly string[]): PatternProblem[] {
  const problems: PatternProblem[] = []
  patterns.forEach((p, index) => {
    try {
      new RegExp(p, 'i')
    } catch (e) {
      problems.push({index, message: `"${p}" is not a valid regular expression (${(e as Error).message})`})
    }
  })
  return problems
}

/**
 * A bundle's pattern (case-insensitive). One that does not compile is matched literally: the
 * bundle validator reports it, and a replay must not die halfway through on it.
 */
export function compileBundlePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'i')
  } catch {
    return new RegExp(escapeRegExp(pattern), 'i')
  }
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

type CompiledPattern = {id: string; re: RegExp; scope: PatternScope}

/**
 * Every built-in injection pattern needs a whitespace character to match, or one of `[` `<` `#`
 * (markup and pseudo-tags), `:` or `,` (`DAN:`, `system:x`), or `j` (`jailbreak`); so does every
 * pattern added to BUILTIN_INJECTION_PATTERNS, or this test must learn its new character
 * (test/guardrails/patterns.test.ts runs the corpus through both). Non-ASCII counts as a hit.
 */
const INJECTION_TRIGGER = (() => {
  const table = new Uint8Array(128)
  for (const c of '\t\n\v\f\r [<#:,jJ') table[c.charCodeAt(0)] = 1
  return table
})()

/** False only when no built-in injection pattern can match `text` (a plain scan, no regex). */
export function mayHoldInjection(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 128 || INJECTION_TRIGGER[c] === 1) return true
  }
  return false
}

const NONE: readonly string[] = Object.freeze([])

/**
 * Built-in patterns plus a bundle's `guardrails.injection_patterns` (ids `custom:<index>`).
 * A single combined case-insensitive regex screens each text first, so clean text (the common
 * case) costs one scan; only a hit pays for finding out which patterns matched.
 */
export function compileInjectionMatcher(extra: readonly string[] = []): InjectionMatcher {
  const patterns: CompiledPattern[] = [
    ...BUILTIN_INJECTION_PATTERNS.map((p) => ({id: p.id, re: new RegExp(p.source, p.flags), scope: p.scope})),
    ...extra.map((p, i) => ({id: `custom:${i}`, re: compileBundlePattern(p), scope: 'any' as const})),
  ]
  /** The ids of `list`'s patterns in scope that `text` matches, screened by one combined regex first. */
  const scan = (list: CompiledPattern[], where: 'input' | 'document'): ((text: string) => readonly string[]) => {
    if (list.length === 0) return () => NONE
    const screen = buildScreen(list, where)
    return (text) => {
      if (screen !== null && !screen.test(text)) return NONE
      const found: string[] = []
      for (const p of list) {
        if (where === 'input' && p.scope === 'document') continue
        if (!found.includes(p.id) && p.re.test(text)) found.push(p.id)
      }
      return found.length === 0 ? NONE : Object.freeze(found)
    }
  }
  // Tool results, their keys and retrieved documents repeat across requests: each scope's verdict
  // on a text is kept (frozen, since every caller of a text shares it). A text no built-in pattern
  // can match (mayHoldInjection: most keys, ids and codes) is only asked the bundle's own patterns,
  // which apply in either scope; their ids come last in pattern order either way.
  const scans = {input: scan(patterns, 'input'), document: scan(patterns, 'document')}
  const memos = {input: createTextMemo<readonly string[]>(), document: createTextMemo<readonly string[]>()}
  // The bundle's patterns are all of scope `any`: the document scope's scan is theirs in either scope.
  const customOnly = scan(patterns.slice(BUILTIN_INJECTION_PATTERNS.length), 'document')
  const match = (text: string, where: 'input' | 'document'): readonly string[] =>
    mayHoldInjection(text) ? memos[where].get(text, scans[where]) : customOnly(text)
  const locate = (text: string, where: 'input' | 'document'): number => {
    let first = -1
    for (const p of patterns) {
      if (where === 'input' && p.scope === 'document') continue
      const at = p.re.exec(text)?.index
      if (at !== undefined && (first === -1 || at < first)) first = at
    }
    return first
  }
  return Object.assign(match, {locate})
}

// Compiled once per bundle (by identity of its guardrail config), not per request or per call.
const matchers = new WeakMap<object, InjectionMatcher>()

/** The matcher for a bundle's guardrail config: built-in patterns plus its `injection_patterns`. */
export function injectionMatcherFor(config: {readonly injection_patterns: readonly string[]}): InjectionMatcher {
  let m = matchers.get(config)
  if (!m) {
    m = compileInjectionMatcher(config.injection_patterns)
    matchers.set(config, m)
  }
  return m
}

/**
 * One alternation over every pattern of a scope. Case-insensitive and multiline cover every
 * pattern's own flags, so the screen can only over-match. Backreferences would be renumbered
 * inside the alternation and named groups may clash, so with either there is no screen at all.
 */
function buildScreen(patterns: CompiledPattern[], where: 'input' | 'document'): RegExp | null {
  const inScope = patterns.filter((p) => where === 'document' || p.scope === 'any')
  if (inScope.some((p) => /\\[1-9]|\\k</.test(p.re.source))) return null
  try {
    return new RegExp(inScope.map((p) => `(?:${p.re.source})`).join('|'), 'im')
  } catch {
    return null
  }
}

/** Luhn checksum over a string of digits: tells card numbers from order numbers and ids. */
export function luhnValid(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (d < 0 || d > 9) return false
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return digits.length > 0 && sum % 10 === 0
}

/** Digits only, so `4111 1111 1111 1111` and `4111111111111111` are the same card. */
export function cardDigits(text: string): string {
  return text.replace(/[ -]/g, '')
}

/** 13–19 digits, spaces and dashes aside, that pass Luhn. One pass, no copy: it runs on every candidate. */
export function isCardNumber(candidate: string): boolean {
  let sum = 0
  let digits = 0
  for (let i = candidate.length - 1; i >= 0; i--) {
    const c = candidate.charCodeAt(i)
    if (c === 32 || c === 45) continue
    let d = c - 48
    if (d < 0 || d > 9) return false
    if (digits % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    digits++
  }
  return digits >= 13 && digits <= 19 && sum % 10 === 0
}

/**
 * A card number held as a JSON number: a safe integer of 13–19 digits that passes Luhn (the rule
 * for digits in text). Integers past 2^53 never arrive here as numbers: the traffic reader keeps
 * them as their digit strings (src/traffic/json.ts).
 */
export function isCardNumberValue(value: number): boolean {
  return value >= 1e12 && Number.isSafeInteger(value) && isCardNumber(String(value))
}

/**
 * IBAN length by country (the SWIFT IBAN registry), so that a candidate is cut at the right place
 * and a run of capitals and digits that only looks like one is not taken.
 */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BL: 27, BR: 29, BY: 28, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27,
  GB: 22, GE: 22, GF: 27, GI: 23, GL: 18, GP: 27, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23,
  IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24,
  ME: 22, MF: 27, MK: 19, MN: 20, MQ: 27, MR: 27, MT: 31, MU: 30, NC: 27, NI: 28, NL: 18, NO: 15, OM: 23, PF: 27,
  PK: 24, PL: 28, PM: 27, PS: 29, PT: 25, QA: 29, RE: 27, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24,
  SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TF: 27, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, WF: 27,
  XK: 20, YE: 30, YT: 27,
}

/** ISO 13616 check: the first four characters moved to the end, letters as 10–35, mod 97 is 1. */
export function ibanValid(compact: string): boolean {
  if (compact.length < 5) return false
  const text = compact.slice(4) + compact.slice(0, 4)
  let rest = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57) rest = (rest * 10 + (c - 48)) % 97
    else if (c >= 65 && c <= 90) rest = (rest * 100 + (c - 55)) % 97
    else return false
  }
  return rest === 1
}

/** The shortest IBAN (every country's is at least this long, plain; grouped adds spaces). */
const IBAN_MIN_LENGTH = Math.min(...Object.values(IBAN_LENGTHS))

/**
 * IBANs of every registered country, each exactly its country's length: the characters after the
 * check digits run together, or in groups of four after single spaces (the last group shorter).
 * A token running on past that length (`(?![A-Za-z0-9_])`) is not one. Branches are keyed by the
 * country's first letter, then its second, so a candidate tries only its own country's shapes.
 */
function ibanSource(): string {
  const byFirst = new Map<string, string[]>()
  for (const [country, length] of Object.entries(IBAN_LENGTHS)) {
    const rest = length - 4
    const grouped = ' [A-Z0-9]{4}'.repeat(Math.floor(rest / 4)) + (rest % 4 > 0 ? ` [A-Z0-9]{${rest % 4}}` : '')
    byFirst.set(country[0]!, [...(byFirst.get(country[0]!) ?? []), `${country[1]}\\d{2}(?:[A-Z0-9]{${rest}}|${grouped})`])
  }
  const branches = [...byFirst].map(([first, seconds]) => `${first}(?:${seconds.join('|')})`)
  return String.raw`\b(?=[A-Z]{2}\d{2}[ A-Z0-9])(?:${branches.join('|')})(?![A-Za-z0-9_])`
}

/** Shannon entropy in bits per character. */
function entropy(text: string): number {
  const counts = new Map<string, number>()
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1)
  let bits = 0
  for (const n of counts.values()) {
    const p = n / text.length
    bits -= p * Math.log2(p)
  }
  return bits
}

const digitCount = (s: string): number => s.replace(/\D/g, '').length

/**
 * A standalone AWS secret access key: exactly 40 characters of the base64 alphabet (the pattern
 * sees to that) with capitals, small letters and a digit, the spread of a random string (40
 * random base64 characters have 4.1 bits per character or more), and a `/` or `+` or a second
 * digit. Hex digests have one case; identifiers run together (`FactoryBean2Handler…`) have no
 * `/` or `+` and rarely two digits; paths have little spread.
 */
function isAwsSecret(candidate: string): boolean {
  if (!/[A-Z]/.test(candidate) || !/[a-z]/.test(candidate) || !/\d/.test(candidate)) return false
  return (/[/+]/.test(candidate) || digitCount(candidate) >= 2) && entropy(candidate) >= 4
}

/**
 * A secret or PII pattern. Every regex is global. `keep` is the number of leading capture groups
 * kept in the clear (a `Bearer ` prefix, a `password=` key); the rest of the match is the
 * candidate. `confirm` rejects look-alikes (Luhn for cards, mod 97 for IBANs).
 *
 * Every regex must take time linear in the text: no match attempt may scan further than a bounded
 * distance, or than the next occurrence of its own start (test/runtime/redact-hostile.test.ts).
 */
export type SecretPattern = {
  kind: string
  re: RegExp
  keep?: 1
  confirm?: (secret: string) => boolean
  /** Text the regex cannot match without one of these in it (case as written): no scan without one. */
  hint?: readonly string[]
  /**
   * What the regex cannot match without (one of the SHAPE_* bits, which textShape reports for a
   * text): the pattern is not run on a text whose shape lacks it.
   */
  needs?: number
  /** What the marker hashes, when forms of one value differ (a card with or without spaces). */
  canonical?: (secret: string) => string
  /** Extra test before calling it a leak in an answer; redaction does not apply it (over-redacting is cheap). */
  leakConfirm?: (secret: string) => boolean
  /** Whether finding it in a final answer is a leak (emails are not: agents quote them back). */
  leak: boolean
}

const hasDigitOrSymbol = (s: string): boolean => /[^A-Za-z]/.test(s)

/** The key of a `key: value` or `key=value` pair whose value is a credential. */
const CREDENTIAL_KEY = '(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd|pwd|token)'

// A text's shape: which of the conditions below its characters meet, found in one pass (textShape),
// so a pattern whose regex needs one the text lacks (SecretPattern.needs) is not run on it. Each bit
// is necessary for a match, never sufficient: dropping a pattern for a text that lacks its bit drops
// only scans that find nothing (test/runtime/secret-shape.test.ts holds every regex to it). Most
// texts that pass the screen (SECRET_SCREEN) do so for three digits in a row, which ids, amounts and
// dates have; these five patterns were most of the time a redaction pass took on such texts.

/** 40 characters of the base64 alphabet in a row (an AWS secret is 40). */
export const SHAPE_BASE64_RUN = 1
/**
 * A digit chain of 13: digits, consecutive or with one space or hyphen between two of them (every
 * card form: run together, 4-4-4-1…, 4-6-4…).
 */
export const SHAPE_CARD_DIGITS = 2
/** A digit chain (as for cards) of 9: an SSN's 3-2-4. */
export const SHAPE_SSN_DIGITS = 4
/**
 * `+` then a digit 1–9 (an international number), or a phone chain of 10 (a North American one):
 * digits with at most two characters between two of them, each a space (any the regex `\s` takes),
 * `.`, `-`, `(` or `)`, as in `1 (202) 555-0143`.
 */
export const SHAPE_PHONE = 8
/** Two capitals and two digits, starting a run of capitals, digits and spaces as long as the shortest IBAN. */
export const SHAPE_IBAN = 16
/** A phone chain (as above) of 10: every phone form detectPii takes. */
export const SHAPE_PHONE_DIGITS = 32

const BASE64_RUN = 40
const CARD_DIGITS = 13
const SSN_DIGITS = 9
const PHONE_DIGITS = 10

// Character classes for textShape, by code below 128 (above it only the regex's spaces count, as gaps).
const C_DIGIT = 1
const C_BASE64 = 2
const C_GAP = 4
const C_CHAIN_SEPARATOR = 8
const C_CAPITAL = 16
const C_PLUS = 32
const CLASSES = (() => {
  const t = new Uint8Array(128)
  for (let c = 0x30; c <= 0x39; c++) t[c] = C_DIGIT | C_BASE64
  for (let c = 0x41; c <= 0x5a; c++) t[c] = C_BASE64 | C_CAPITAL
  for (let c = 0x61; c <= 0x7a; c++) t[c] = C_BASE64
  t[0x2f] = C_BASE64
  t[0x2b] = C_BASE64 | C_PLUS
  for (const c of [0x2e, 0x28, 0x29, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) t[c] = C_GAP
  t[0x20] = C_GAP | C_CHAIN_SEPARATOR
  t[0x2d] = C_GAP | C_CHAIN_SEPARATOR
  return t
})()

const classOf = (c: number): number => (c < 128 ? CLASSES[c]! : isWideSpace(c) ? C_GAP : 0)

/** The SHAPE_* bits `text` has: one pass, a table lookup a character. */
export function textShape(text: string): number {
  const n = text.length
  let phoneChain = 0
  let longestPhoneChain = 0
  let gap = 0
  let chain = 0
  let longestChain = 0
  let run = 0
  let longestRun = 0
  let plusDigit = false
  let iban = false
  for (let i = 0; i < n; i++) {
    const k = classOf(text.charCodeAt(i))
    if ((k & C_DIGIT) !== 0) {
      gap = 0
      if (++phoneChain > longestPhoneChain) longestPhoneChain = phoneChain
      if (++chain > longestChain) longestChain = chain
      if (++run > longestRun) longestRun = run
      continue
    }
    if ((k & C_BASE64) !== 0) {
      if (++run > longestRun) longestRun = run
      chain = 0
      phoneChain = 0
      if ((k & C_CAPITAL) !== 0) {
        if (!iban && ibanStartsAt(text, i)) iban = true
      } else if ((k & C_PLUS) !== 0 && i + 1 < n) {
        const d = text.charCodeAt(i + 1)
        if (d >= 0x31 && d <= 0x39) plusDigit = true
      }
      continue
    }
    run = 0
    // At most two gap characters between two digits keep a phone chain; one space or hyphen, a card's.
    if ((k & C_GAP) === 0 || ++gap > 2) phoneChain = 0
    if ((k & C_CHAIN_SEPARATOR) === 0 || chain === 0 || i + 1 >= n || !isAsciiDigit(text.charCodeAt(i + 1))) chain = 0
  }
  let shape = 0
  if (longestRun >= BASE64_RUN) shape |= SHAPE_BASE64_RUN
  if (longestChain >= CARD_DIGITS) shape |= SHAPE_CARD_DIGITS
  if (longestChain >= SSN_DIGITS) shape |= SHAPE_SSN_DIGITS
  if (longestPhoneChain >= PHONE_DIGITS) shape |= SHAPE_PHONE | SHAPE_PHONE_DIGITS
  if (plusDigit) shape |= SHAPE_PHONE
  if (iban) shape |= SHAPE_IBAN
  return shape
}

/** Whether SecretPattern `p` may match a text of shape `shape`. */
export function shapeAllows(shape: number, p: SecretPattern): boolean {
  return p.needs === undefined || (shape & p.needs) !== 0
}

/** Whether an IBAN's first four characters ([A-Z]{2}\d{2}) start at `i`, followed by IBAN characters up to the shortest IBAN's length. */
function ibanStartsAt(text: string, i: number): boolean {
  if (i + IBAN_MIN_LENGTH > text.length) return false
  if (!isCapital(text.charCodeAt(i + 1)) || !isAsciiDigit(text.charCodeAt(i + 2)) || !isAsciiDigit(text.charCodeAt(i + 3))) return false
  for (let k = 4; k < IBAN_MIN_LENGTH; k++) {
    const c = text.charCodeAt(i + k)
    if (!(isCapital(c) || isAsciiDigit(c) || c === 0x20)) return false
  }
  return true
}

/** A character past ASCII that the regex `\s` matches. */
function isWideSpace(c: number): boolean {
  switch (c) {
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
      return true
  }
  return c >= 0x2000 && c <= 0x200a
}

function isCapital(c: number): boolean {
  return c >= 0x41 && c <= 0x5a
}

/** Ordered: multi-line and prefixed forms first, so later patterns never see half of a secret. */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    kind: 'private_key',
    hint: ['PRIVATE KEY'],
    // The body stops at the next BEGIN line, so a text of BEGIN lines without an END costs one pass;
    // a key cut short (no END) is taken up to the end of its base64 lines (a header alone is no key).
    re: /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----(?:(?:(?!-----BEGIN )[\s\S])*?-----END (?:[A-Z]+ )*PRIVATE KEY-----|(?:\r?\n[A-Za-z0-9+/=]+)+)/g,
    leak: true,
  },
  {kind: 'bearer_token', hint: ['earer'], re: /\b([Bb]earer\s+)(?!\[REDACTED)[A-Za-z0-9._~+/-]{12,}=*/g, keep: 1, leak: true},
  {
    kind: 'credential',
    // Not after `REDACTED:`, or the marker `[REDACTED:api_key:…]` would itself read as a pair; and
    // a value that is itself the next key (`password: password: …`) is that key, not a secret.
    re: new RegExp(String.raw`(?<!REDACTED:)\b(${CREDENTIAL_KEY}["']?\s*[:=]\s*["']?)(?!\[REDACTED|${CREDENTIAL_KEY}["']?\s*[:=])[^\s"'&,;<>]{4,}`, 'gi'),
    keep: 1,
    // In prose ("password: reset it") the word after the key is often no secret at all.
    leakConfirm: hasDigitOrSymbol,
    leak: true,
  },
  {
    kind: 'url_password',
    hint: ['://'],
    // `scheme://user:PASSWORD@host`, whatever the host (a name, an IP address); the password runs
    // to the last `@` before the path, so one holding an `@` is taken whole.
    re: /(?<=[A-Za-z0-9+.-])(:\/\/[^\s:/?#@[\]]*:)(?!\[REDACTED)[^\s/?#]+(?=@)/g,
    keep: 1,
    leak: true,
  },
  {kind: 'api_key', hint: ['sk-'], re: /(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{17,}/g, leak: true},
  {kind: 'aws_key', hint: ['AKIA', 'ASIA'], re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, leak: true},
  {kind: 'github_token', hint: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'], re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b/g, leak: true},
  {kind: 'slack_token', hint: ['xox'], re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, leak: true},
  {kind: 'jwt', hint: ['eyJ'], re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, leak: true},
  {
    kind: 'aws_secret',
    needs: SHAPE_BASE64_RUN,
    // Exactly 40: a longer base64 run (a digest, a blob) is not one, nor is any part of it. The first
    // character comes before the lookbehind, so the scan skips to candidates.
    re: /[A-Za-z0-9/+](?<![A-Za-z0-9/+_-][A-Za-z0-9/+])[A-Za-z0-9/+]{39}(?![A-Za-z0-9/+=_-])/g,
    confirm: isAwsSecret,
    leak: true,
  },
  {
    kind: 'email',
    hint: ['@'],
    re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g,
    leak: false,
  },
  {
    kind: 'iban',
    needs: SHAPE_IBAN,
    // Plain or in groups of four, exactly its country's length, with valid mod-97 check digits.
    re: new RegExp(ibanSource(), 'g'),
    confirm: (s) => ibanValid(s.replace(/ /g, '')),
    canonical: (s) => s.replace(/ /g, ''),
    leak: true,
  },
  {kind: 'ssn', hint: ['-'], needs: SHAPE_SSN_DIGITS, re: /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g, leak: true},
  {
    kind: 'card',
    needs: SHAPE_CARD_DIGITS,
    // Run together, or in the groups cards are printed in (4-4-4-4 up to 19 digits, 4-6-5, 4-6-4),
    // one separator throughout: digits spaced out one by one are no card, and cost a Luhn check each.
    // The lookahead first lets the scan skip to digits instead of trying the lookbehind everywhere.
    re: /(?=\d)(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-])/g,
    confirm: isCardNumber,
    canonical: cardDigits,
    leak: true,
  },
  {
    kind: 'phone',
    needs: SHAPE_PHONE,
    // International: `+`, a country code, then digits run together or in groups after separators,
    // one group may be in brackets (`+44 (0)20 …`); 8–15 digits in all (E.164). North American:
    // (202) 555-0143, 202-555-0143, 202.555.0143, an optional leading 1; the area code starts
    // with 2–9. Not inside a longer token (ids, dates, amounts: no digit, `-`, `.` or `+` next to it).
    re: /(?<![\w+])\+[1-9](?:\d{7,14}|\d{0,2}(?:[ .-]?\(\d{1,4}\)\d{0,4})?(?:[ .-]\d{1,5}){1,6})(?![\w-]|[.,]\d)|(?<![\w+.-])(?:1[ .-]?)?(?:\([2-9]\d{2}\)[ .-]?\d{3}[ .-]|[2-9]\d{2}-\d{3}-|[2-9]\d{2}\.\d{3}\.)\d{4}(?![\w-]|[.,]\d)/g,
    confirm: (s) => !s.startsWith('+') || (digitCount(s) >= 8 && digitCount(s) <= 15),
    canonical: (s) => (s.startsWith('+') ? '+' : '') + s.replace(/\D/g, ''),
    leak: false,
  },
]

/**
 * Calls `hit` for each secret of `p` in `text`, left to right (`start` is where the secret begins,
 * after any kept prefix); stops early when `hit` returns false. `re` is the caller's own copy of
 * `p.re` (its lastIndex is state). A candidate that is no secret is skipped whole.
 */
export function scanSecrets(text: string, p: SecretPattern, re: RegExp, hit: (start: number, secret: string) => boolean): void {
  if (p.hint !== undefined && !holdsAny(text, p.hint)) return
  re.lastIndex = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const kept = p.keep ? m[1]!.length : 0
    const start = m.index + kept
    const secret = m[0].slice(kept)
    if (p.confirm && !p.confirm(secret)) continue
    if (!hit(start, secret)) break
  }
  re.lastIndex = 0
}

/** Whether `text` contains one of `hints` (a loop, not `some`: no closure per pattern and text). */
function holdsAny(text: string, hints: readonly string[]): boolean {
  for (let i = 0; i < hints.length; i++) if (text.includes(hints[i]!)) return true
  return false
}

/**
 * The words and characters at least one of which every secret pattern but the five shaped ones
 * (SecretPattern.needs) needs: SECRET_SCREEN less its digit-run and base64-run alternatives.
 */
const SECRET_WORDS = /@|\+\d|:\/\/|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|eyJ|bearer|key|token|secret|passw|pwd|PRIVATE KEY/i

/**
 * Cheap screen before the pattern pass: text without any of these cannot hold a secret or PII,
 * and most tool results and answers have none of them. Every IBAN and every phone number of eight
 * digits or more has three digits in a row, or a `+`.
 */
export const SECRET_SCREEN = new RegExp(String.raw`\d{3}|(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}|${SECRET_WORDS.source}`, 'i')

/** secretShape's answer for a text no secret pattern can match. */
export const NO_SECRET = -1

/**
 * The shape (textShape) of a text some secret pattern may match, or NO_SECRET: a text with none of
 * the screen's words and none of the five shapes. Where the screen takes a long text for its digits
 * (an answer quoting an amount and an order id), this settles it without running the patterns.
 */
export function secretShape(text: string): number {
  const shape = textShape(text)
  return shape === 0 && !SECRET_WORDS.test(text) ? NO_SECRET : shape
}

/**
 * Whether SECRET_SCREEN matches `text`, for a text shorter than 40 characters (its base64 run
 * cannot fit) and of ASCII only; any other text counts as a match. A scan with a look at the few
 * characters after each letter that starts one of the screen's words, far cheaper than the regex
 * (or a memo lookup) for the ids, keys and codes that make up most strings of a trace. The regex's
 * `i` flag folds ASCII letters only (without `u`, no other character folds to one), so comparing
 * `c | 0x20` with a small letter is its case-insensitive test. test/runtime/secret-screen.test.ts
 * holds the two equal on generated texts and on every string of the shipped traffic.
 */
export function mayHoldSecret(text: string): boolean {
  return screenScan(text) !== SCREEN_CLEAR
}

/**
 * Whether a secret pattern may match `text`: mayHoldSecret, made exact for the short ASCII texts it
 * takes for three digits in a row alone (ids, amounts, dates). Every pattern but the five shaped
 * ones (SecretPattern.needs) needs one of the screen's words or characters, which such a text
 * lacks, and a text shorter than 40 has no base64 run of 40; so the text's shape decides (textShape:
 * a digit chain of a card, an SSN or a phone number, or an IBAN's start). Redaction and findSecrets
 * ask this before their memo: `ORD-100021` or a timestamp is settled in a pass over its characters.
 */
export function maySecretMatch(text: string): boolean {
  const screened = screenScan(text)
  return screened === SCREEN_MATCH || (screened === SCREEN_DIGITS_ONLY && textShape(text) !== 0)
}

/** What screenScan finds: no match; a match for three digits in a row only; any other match (or a long or non-ASCII text). */
const SCREEN_CLEAR = 0
const SCREEN_DIGITS_ONLY = 1
const SCREEN_MATCH = 2

function screenScan(text: string): number {
  const n = text.length
  if (n >= 40) return SCREEN_MATCH
  let digits = 0
  let digitRun = false
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (isAsciiDigit(c)) {
      if (++digits === 3) digitRun = true
      continue
    }
    digits = 0
    if (c >= 128) return SCREEN_MATCH
    if (screenWordAt(text, i, c)) return SCREEN_MATCH
  }
  return digitRun ? SCREEN_DIGITS_ONLY : SCREEN_CLEAR
}

/** Whether one of SECRET_SCREEN's alternatives other than digits and the base64 run starts at `i` (its code `c`). */
function screenWordAt(text: string, i: number, c: number): boolean {
  switch (c) {
    case 0x40: // @
      return true
    case 0x2b: // +\d
      return isAsciiDigit(text.charCodeAt(i + 1))
    case 0x3a: // ://
      return text.charCodeAt(i + 1) === 0x2f && text.charCodeAt(i + 2) === 0x2f
  }
  switch (c | 0x20) {
    case 0x61: // akia, asia
      return isLetter(c) && (follows(text, i, 'kia') || follows(text, i, 'sia'))
    case 0x62: // bearer
      return isLetter(c) && follows(text, i, 'earer')
    case 0x65: // eyj
      return isLetter(c) && follows(text, i, 'yj')
    case 0x67: // gh[pousr]_, github_pat_
      return isLetter(c) && ((follows(text, i, 'h') && oneOf(text, i + 2, 'pousr') && text.charCodeAt(i + 3) === 0x5f) || follows(text, i, 'ithub_pat_'))
    case 0x6b: // key
      return isLetter(c) && follows(text, i, 'ey')
    case 0x70: // passw, pwd, private key
      return isLetter(c) && (follows(text, i, 'assw') || follows(text, i, 'wd') || follows(text, i, 'rivate key'))
    case 0x73: // sk-, secret
      return isLetter(c) && (follows(text, i, 'k-') || follows(text, i, 'ecret'))
    case 0x74: // token
      return isLetter(c) && follows(text, i, 'oken')
    case 0x78: // xox[abprs]-
      return isLetter(c) && follows(text, i, 'ox') && oneOf(text, i + 3, 'abprs') && text.charCodeAt(i + 4) === 0x2d
  }
  return false
}

/** Whether `word` (small letters and punctuation) follows position `i`, letters in either case. */
function follows(text: string, i: number, word: string): boolean {
  if (i + word.length >= text.length) return false
  for (let k = 0; k < word.length; k++) {
    const w = word.charCodeAt(k)
    const t = text.charCodeAt(i + 1 + k)
    if (w >= 0x61 && w <= 0x7a ? (t | 0x20) !== w || !isLetter(t) : t !== w) return false
  }
  return true
}

/** Whether the letter at `i` is one of `letters` (small), in either case. */
function oneOf(text: string, i: number, letters: string): boolean {
  const t = text.charCodeAt(i)
  return isLetter(t) && letters.includes(String.fromCharCode(t | 0x20))
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
}

function isAsciiDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/**
 * The kinds of secret found in `text` (each once, pattern order); with `leaksOnly`, emails are
 * ignored. Frozen: final answers and argument values repeat, so the verdicts are memoised.
 */
export function findSecrets(text: string, options: {leaksOnly?: boolean} = {}): readonly string[] {
  if (!maySecretMatch(text)) return NONE
  return options.leaksOnly ? leakMemo.get(text, findLeaks) : allMemo.get(text, findAll)
}

function scanKinds(text: string, leaksOnly: boolean): readonly string[] {
  const shape = secretShape(text)
  if (shape === NO_SECRET) return NONE
  let kinds: string[] | null = null
  for (let i = 0; i < FIND_PATTERNS.length; i++) {
    const p = FIND_PATTERNS[i]!
    if (leaksOnly && !p.leak) continue
    if (kinds?.includes(p.kind) || !shapeAllows(shape, p)) continue
    kindScan.pattern = p
    kindScan.leaksOnly = leaksOnly
    kindScan.found = false
    scanSecrets(text, p, p.re, onKind)
    if (kindScan.found) (kinds ??= []).push(p.kind)
  }
  return kinds === null ? NONE : Object.freeze(kinds)
}

/** scanKinds' state and callback, made once (a closure per pattern and text is garbage on every scan); never re-entered. */
const kindScan = {pattern: null as SecretPattern | null, leaksOnly: false, found: false}
const onKind = (_: number, secret: string): boolean => {
  const p = kindScan.pattern!
  if (kindScan.leaksOnly && p.leakConfirm && !p.leakConfirm(secret)) return true
  kindScan.found = true
  return false
}

const findLeaks = (text: string): readonly string[] => scanKinds(text, true)
const findAll = (text: string): readonly string[] => scanKinds(text, false)
const leakMemo = createTextMemo<readonly string[]>()
const allMemo = createTextMemo<readonly string[]>()

/** findSecrets' own copies: their lastIndex is state, never shared with another caller. */
const FIND_PATTERNS: readonly SecretPattern[] = SECRET_PATTERNS.map((p) => ({...p, re: new RegExp(p.re.source, p.re.flags)}))

export type PiiKind = 'email' | 'phone' | 'card' | 'ssn'

const PII_EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/
// Separators are required: a bare run of ten digits is far more often an id than a phone number.
const PII_PHONE =
  /(?<![\w+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])|(?<![\w+-])\+\d{10,14}(?!\d)/
const PII_SSN = /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/
const PII_CARD = /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])/g

/** Every PII pattern detectPii uses, by kind (the adversarial suite runs each on hostile input). */
export const PII_PATTERNS: Readonly<Record<PiiKind, RegExp>> = {email: PII_EMAIL, phone: PII_PHONE, ssn: PII_SSN, card: PII_CARD}

/** Personal data in user input, by kind (each once). */
export function detectPii(text: string): PiiKind[] {
  const kinds: PiiKind[] = []
  if (text.includes('@') && PII_EMAIL.test(text)) kinds.push('email')
  const shape = textShape(text)
  if ((shape & SHAPE_PHONE_DIGITS) !== 0 && PII_PHONE.test(text)) kinds.push('phone')
  if ((shape & SHAPE_CARD_DIGITS) !== 0 && /\d{4}/.test(text)) {
    for (const m of text.matchAll(PII_CARD)) {
      if (isCardNumber(m[0])) {
        kinds.push('card')
        break
      }
    }
  }
  if (text.includes('-') && PII_SSN.test(text)) kinds.push('ssn')
  return kinds
}
