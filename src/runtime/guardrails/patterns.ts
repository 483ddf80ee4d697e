/**
 * The text patterns every guardrail shares: prompt injection, PII and secrets. Each is compiled
 * once at module load; per-bundle extras are compiled once per bundle by the callers.
 */

/** Where an injection pattern applies: some phrasings are normal from a user but not inside a document. */
export type PatternScope = 'any' | 'document'

export type InjectionPattern = {id: string; source: string; flags: string; scope: PatternScope}

const OPT_DET = String.raw`(?:(?:all|any|the|your|these|those|my|of|previous|prior|above|earlier|preceding|foregoing|system|original|existing)\s+)*`

export const BUILTIN_INJECTION_PATTERNS: readonly InjectionPattern[] = [
  {
    id: 'ignore_instructions',
    source: String.raw`\b(?:ignore|forget|override|bypass|skip)\s+${OPT_DET}(?:previous|prior|above|earlier|preceding|foregoing|system|original|existing)\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages?)\b`,
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
    source: String.raw`\bsystem\s+prompt\b|\b(?:new|updated|real|true)\s+(?:system\s+)?instructions\s*:`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'reveal_instructions',
    source: String.raw`\b(?:reveal|print|show|display|output|repeat|leak|dump|recite|tell\s+me)\s+(?:me\s+)?(?:all\s+)?(?:your|the)\s+(?:(?:full|entire|original|hidden|secret|initial|internal|exact|system)\s+)*(?:instructions|prompt|rules|configuration|guidelines)\b`,
    flags: 'i',
    scope: 'any',
  },
  {
    id: 'admin_block',
    source: String.raw`\bBEGIN\s+(?:ADMIN|SYSTEM|DEVELOPER|ROOT|OVERRIDE)\b|\[\s*(?:SYSTEM|ADMIN)\s*(?:OVERRIDE|MESSAGE|NOTE)?\s*\]|<\|(?:im_start|im_end|system|assistant|endoftext)\|>|\[\/?INST\]|<<\/?SYS>>`,
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
    id: 'hidden_instruction',
    source: String.raw`<!--\s*(?:assistant|system|ai|instructions?|prompt|note\s+to\s+(?:the\s+)?(?:ai|assistant|model))\s*:|\[\/\/\]:\s*#\s*\(\s*(?:assistant|system|ai)`,
    flags: 'i',
    scope: 'any',
  },
  // A customer may well ask to send something to an address; a document asking for it is an attack.
  {
    id: 'exfiltration_request',
    source: String.raw`\b(?:send|forward|e-?mail|post|upload|transmit|exfiltrate|copy|share)\b[^.\n]{0,100}?\bto\s+(?:[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?:\/\/[^\s)]+)`,
    flags: 'i',
    scope: 'document',
  },
  {
    id: 'role_marker',
    // Blank space before the marker is spaces and tabs, not newlines: `^\s*` under the m flag
    // starts at every line of a run of newlines and rescans the rest of the run (quadratic).
    source: String.raw`^[ \t]*(?:system|assistant)[ \t]*:\s*\S`,
    flags: 'im',
    scope: 'document',
  },
]

/** Returns the ids of the patterns found in `text` (each once, in pattern order); empty when clean. */
export type InjectionMatcher = (text: string, where: 'input' | 'document') => string[]

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
 * Built-in patterns plus a bundle's `guardrails.injection_patterns` (ids `custom:<index>`).
 * A single combined case-insensitive regex screens each text first, so clean text (the common
 * case) costs one scan; only a hit pays for finding out which patterns matched.
 */
export function compileInjectionMatcher(extra: readonly string[] = []): InjectionMatcher {
  const patterns: CompiledPattern[] = [
    ...BUILTIN_INJECTION_PATTERNS.map((p) => ({id: p.id, re: new RegExp(p.source, p.flags), scope: p.scope})),
    ...extra.map((p, i) => ({id: `custom:${i}`, re: compileBundlePattern(p), scope: 'any' as const})),
  ]
  const screens = {input: buildScreen(patterns, 'input'), document: buildScreen(patterns, 'document')}
  return (text, where) => {
    const screen = screens[where]
    if (screen !== null && !screen.test(text)) return []
    const found: string[] = []
    for (const p of patterns) {
      if (where === 'input' && p.scope === 'document') continue
      if (!found.includes(p.id) && p.re.test(text)) found.push(p.id)
    }
    return found
  }
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

export function isCardNumber(candidate: string): boolean {
  const digits = cardDigits(candidate)
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits)
}

/**
 * A secret or PII pattern. Every regex is global (for replace). `keep` is the number of leading
 * capture groups kept in the clear (a `Bearer ` prefix, a `password=` key); the rest of the match
 * is the secret. `confirm` rejects look-alikes (Luhn for cards).
 */
export type SecretPattern = {
  kind: string
  re: RegExp
  keep?: 1
  confirm?: (secret: string) => boolean
  /** Extra test before calling it a leak in an answer; redaction does not apply it (over-redacting is cheap). */
  leakConfirm?: (secret: string) => boolean
  /** Whether finding it in a final answer is a leak (emails are not: agents quote them back). */
  leak: boolean
}

const hasDigitOrSymbol = (s: string): boolean => /[^A-Za-z]/.test(s)

/** Ordered: multi-line and prefixed forms first, so later patterns never see half of a secret. */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    kind: 'private_key',
    // The body stops at the next BEGIN: otherwise every header of a text full of headers and no
    // END scans to the end of the text (quadratic).
    re: /-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----(?:(?!-----BEGIN )[\s\S])*?-----END (?:[A-Z]+ )*PRIVATE KEY-----/g,
    leak: true,
  },
  {kind: 'bearer_token', re: /\b([Bb]earer\s+)(?!\[REDACTED)[A-Za-z0-9._~+/-]{12,}=*/g, keep: 1, leak: true},
  {
    kind: 'credential',
    // Not after `REDACTED:`, or the marker `[REDACTED:api_key:…]` would itself read as a pair.
    re: /(?<!REDACTED:)\b((?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd|pwd|token)["']?\s*[:=]\s*["']?)(?!\[REDACTED)[^\s"'&,;<>]{4,}/gi,
    keep: 1,
    // In prose ("password: reset it") the word after the key is often no secret at all.
    leakConfirm: hasDigitOrSymbol,
    leak: true,
  },
  {kind: 'api_key', re: /(?<![A-Za-z0-9_-])sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{17,}/g, leak: true},
  {kind: 'aws_key', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, leak: true},
  {kind: 'github_token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b/g, leak: true},
  {kind: 'slack_token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, leak: true},
  {kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, leak: true},
  {
    kind: 'email',
    re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g,
    leak: false,
  },
  {kind: 'ssn', re: /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/g, leak: true},
  {kind: 'card', re: /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])/g, confirm: isCardNumber, leak: true},
]

/**
 * Cheap screen before the pattern pass: text without any of these cannot hold a secret or PII,
 * and most tool results and answers have none of them.
 */
export const SECRET_SCREEN =
  /@|\d{3}|sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|eyJ|bearer|key|token|secret|passw|pwd|PRIVATE KEY/i

/** The kinds of secret found in `text` (each once, pattern order); with `leaksOnly`, emails are ignored. */
export function findSecrets(text: string, options: {leaksOnly?: boolean} = {}): string[] {
  if (!SECRET_SCREEN.test(text)) return []
  const kinds: string[] = []
  for (const p of FIND_PATTERNS) {
    if (options.leaksOnly && !p.leak) continue
    if (kinds.includes(p.kind)) continue
    // exec over a private global regex rather than matchAll, which clones the regex on every call.
    const re = p.re
    re.lastIndex = 0
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0] === '') re.lastIndex++
      const secret = p.keep ? m[0].slice(m[1]!.length) : m[0]
      if ((!p.confirm || p.confirm(secret)) && (!options.leaksOnly || !p.leakConfirm || p.leakConfirm(secret))) {
        kinds.push(p.kind)
        break
      }
    }
    re.lastIndex = 0
  }
  return kinds
}

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
  if (PII_PHONE.test(text)) kinds.push('phone')
  if (/\d{4}/.test(text)) {
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
