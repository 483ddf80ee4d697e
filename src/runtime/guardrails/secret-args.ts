import {findSecrets} from './patterns.js'

/**
 * The pre-call secret scan of tool arguments (`guardrails.scan_args_for_secrets`): every string in
 * the arguments, keys too, through the redaction detectors, before the call runs. Only credentials
 * count (keys, tokens, passwords, private keys): personal data (emails, phone numbers, IBANs, card
 * numbers) is what many tools legitimately take, and is redacted from the trace instead. A field the
 * tool's contract lists in `sensitive_fields` is meant to carry a secret (a new password) and is
 * not scanned; paths compare without array indices (`items.token` covers every item's).
 */

export const SECRET_IN_ARGS = 'SECRET_IN_ARGS'

/** The detector kinds that are credentials (src/runtime/guardrails/patterns.ts SECRET_PATTERNS). */
const CREDENTIAL_KINDS: ReadonlySet<string> = new Set([
  'private_key',
  'bearer_token',
  'credential',
  'url_password',
  'api_key',
  'aws_key',
  'aws_secret',
  'github_token',
  'slack_token',
  'jwt',
])

export type SecretInArgs = {path: string; kind: string}

/** Each argument path holding a credential, with the first kind found there; empty when none. */
export function secretsInArgs(args: unknown, sensitiveFields: readonly string[]): SecretInArgs[] {
  const skip = new Set(sensitiveFields.map((p) => p.split('.').filter((s) => s !== '*' && !/^\d+$/.test(s)).join('.')))
  const found: SecretInArgs[] = []
  const scan = (text: string, path: string): void => {
    const kind = findSecrets(text, {leaksOnly: true}).find((k) => CREDENTIAL_KINDS.has(k))
    if (kind !== undefined) found.push({path: path === '' ? '(arguments)' : path, kind})
  }
  const walk = (value: unknown, path: string, depth: number): void => {
    if (skip.has(path) || depth > 64) return
    if (typeof value === 'string') scan(value, path)
    else if (Array.isArray(value)) for (const item of value) walk(item, path, depth + 1)
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const at = path === '' ? k : `${path}.${k}`
        if (skip.has(at)) continue
        scan(k, at)
        walk(v, at, depth + 1)
      }
    }
  }
  walk(args, '', 0)
  return found
}
