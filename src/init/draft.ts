import {Document, isMap, isScalar, type YAMLMap} from 'yaml'
import {checkArgSchema} from '../bundle/arg-schema.js'
import type {Budgets, PolicyRule, RiskLevel} from '../bundle/schema.js'
import {TEMPLATE_VARIABLES, templateVariables} from '../bundle/templates.js'
import {UnderstudyError} from '../errors.js'
import type {ToolDefinition} from '../traffic/imported.js'
import type {TrafficRecord} from '../traffic/schema.js'

/**
 * The starting bundle `understudy init` drafts from imported traffic. Pure: records and tool
 * definitions in, file texts and the list of guesses out. Every guess is named twice: as a
 * `# review:` comment beside the field it set, and as a line of `notes` for the scenario README.
 * Risk is guessed from generic English verbs in the tool's name only; no tool name of any domain is
 * known here.
 */

/** Budgets are the observed maxima times this, rounded up: room for a candidate that takes one more step. */
export const BUDGET_HEADROOM = 1.5

/** Verbs that only look things up. */
const READ_VERBS = new Set(['get', 'list', 'search', 'find', 'lookup', 'look', 'read', 'check', 'fetch', 'query', 'show', 'view', 'describe', 'count', 'retrieve', 'browse', 'inspect', 'verify', 'validate', 'estimate', 'calculate', 'compute', 'preview'])

/** Verbs whose effect is hard to undo or moves money, data or access: anything else that acts is write_low. */
const HIGH_RISK_VERBS = new Set([
  'delete', 'remove', 'cancel', 'refund', 'transfer', 'send', 'pay', 'close', 'revoke', 'reset', 'disable', 'terminate', 'purge', 'drop', 'wipe',
  'destroy', 'charge', 'withdraw', 'email', 'publish', 'deploy', 'grant', 'approve', 'execute', 'run', 'kill', 'suspend', 'ban', 'block', 'erase',
  'archive', 'deactivate', 'unsubscribe', 'void', 'wire', 'post', 'submit', 'escalate', 'merge', 'overwrite', 'shutdown', 'reboot', 'restart',
])

/** The words of a tool name: snake_case, kebab-case, dotted and camelCase split alike, lowercased. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase())
}

/**
 * A tool's risk guessed from its name: any high-risk verb makes it write_high (`get_and_delete` is
 * not a read); else a name that starts with a read verb is read; else write_low. A guess: the
 * written bundle marks it for review.
 */
export function guessRisk(name: string): RiskLevel {
  const words = nameWords(name)
  if (words.some((w) => HIGH_RISK_VERBS.has(w))) return 'write_high'
  if (words.length > 0 && READ_VERBS.has(words[0]!)) return 'read'
  return 'write_low'
}

/** Observed maxima over the traffic, per request. */
export type Observed = {steps: number; toolCalls: number; totalTokens: number; retries: number}

export function observedMaxima(records: readonly TrafficRecord[]): Observed {
  const max: Observed = {steps: 0, toolCalls: 0, totalTokens: 0, retries: 0}
  for (const r of records) {
    const calls = r.production.tool_calls
    // A step is one model call: each round of tool calls, then the answer. Importers that count the
    // model calls they saw record it as `import_steps`; otherwise calls + 1 is the most it can be.
    const labelled = Number(r.labels.import_steps)
    const steps = Math.max(Number.isInteger(labelled) ? labelled : 0, calls.length + 1)
    max.steps = Math.max(max.steps, steps)
    max.toolCalls = Math.max(max.toolCalls, calls.length)
    max.totalTokens = Math.max(max.totalTokens, r.production.usage.input_tokens + r.production.usage.output_tokens)
    max.retries = Math.max(max.retries, ...calls.map((c) => c.attempt - 1))
  }
  return max
}

export function budgetsFrom(observed: Observed): Budgets {
  const up = (n: number, floor: number) => Math.max(floor, Math.ceil(n * BUDGET_HEADROOM))
  return {
    max_steps: up(observed.steps, 2),
    max_tool_calls: up(observed.toolCalls, 1),
    max_total_tokens: up(observed.totalTokens, 1000),
    max_retries: up(observed.retries, 1),
  }
}

/** One guessed tool contract, with why each guess was made. */
export type DraftTool = {
  name: string
  description: string
  risk: RiskLevel
  args: Record<string, unknown>
  roles: Record<string, string[]>
  /** Roles seen calling it (the allow rule's roles); empty when the traffic never calls it. */
  calledBy: string[]
  calls: number
  /** Why its schema or description needs a look (besides the risk, always guessed). */
  notes: string[]
}

export type Draft = {
  name: string
  model: string | null
  tools: DraftTool[]
  policies: PolicyRule[]
  budgets: Budgets
  observed: Observed
  tenants: string[]
  roles: string[]
  /** The system prompt text for prompts/system.md, and where it came from. */
  systemPrompt: {text: string; source: 'log' | 'placeholder'; variants: number}
  /** What must be reviewed, one line each, for the README. */
  notes: string[]
}

const PERMISSIVE_ARGS = {type: 'object'}
const IDENTIFIER = /^[a-z][a-z0-9_]*$/

/** A name for bundle, scenario and policy ids: lowercase letters, digits, `.`, `_` and `-`. */
export function slug(text: string, fallback: string): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '')
    .slice(0, 64)
  return s === '' ? fallback : s
}

export function draftBundle(input: {name: string; records: readonly TrafficRecord[]; tools: readonly ToolDefinition[]; systemPrompts?: readonly string[]}): Draft {
  const {records} = input
  const tenants = [...new Set(records.map((r) => r.tenant))].sort()
  const roles = [...new Set(records.map((r) => r.role))].sort()
  const rolesByTenant: Record<string, string[]> = {}
  for (const t of tenants) rolesByTenant[t] = [...new Set(records.filter((r) => r.tenant === t).map((r) => r.role))].sort()

  const callers = new Map<string, {roles: Set<string>; calls: number}>()
  for (const r of records) {
    for (const c of r.production.tool_calls) {
      const seen = callers.get(c.name) ?? {roles: new Set<string>(), calls: 0}
      seen.roles.add(r.role)
      seen.calls++
      callers.set(c.name, seen)
    }
  }
  const defined = new Map(input.tools.map((t) => [t.name, t]))
  const names = [...new Set([...input.tools.map((t) => t.name), ...callers.keys()])].sort()
  const badNames = names.filter((n) => !IDENTIFIER.test(n) || n.length > 64)
  if (badNames.length > 0) {
    throw new UnderstudyError(
      `tool name(s) ${badNames.map((n) => JSON.stringify(n)).join(', ')}: a bundle's tool names are snake_case (a lowercase letter, then lowercase letters, digits or _), and the recorded calls must use the same names; nothing was written`,
    )
  }
  if (names.length === 0) throw new UnderstudyError('the log defines no tool and the traffic calls none; a bundle needs at least one tool contract; nothing was written')

  const notes: string[] = []
  const tools: DraftTool[] = names.map((name) => {
    const def = defined.get(name)
    const seen = callers.get(name)
    const toolNotes: string[] = []
    let args: Record<string, unknown> = PERMISSIVE_ARGS
    if (def === undefined) {
      toolNotes.push('called in the traffic but never defined in the log: its argument schema accepts any object')
    } else if (def.parameters === undefined) {
      toolNotes.push('the log gives no argument schema: it accepts any object')
    } else if (checkArgSchema(def.parameters, ['args']).length > 0) {
      const first = checkArgSchema(def.parameters, ['args'])[0]!
      toolNotes.push(`the log's argument schema is not a valid JSON Schema (${[...first.path].map(String).join('.')}: ${first.message}): replaced by one that accepts any object`)
    } else {
      args = def.parameters
    }
    const description = def?.description ?? `${name} (no description in the log; write what it does: the model reads this)`
    if (def?.description === undefined) toolNotes.push('no description in the log')
    const risk = guessRisk(name)
    if (seen === undefined) toolNotes.push('never called in the traffic: no policy rule allows it, so default deny refuses it')
    for (const n of toolNotes) notes.push(`tool ${name}: ${n}`)
    return {name, description, risk, args, roles: rolesByTenant, calledBy: seen ? [...seen.roles].sort() : [], calls: seen?.calls ?? 0, notes: toolNotes}
  })
  notes.unshift(`risk of every tool guessed from its name (${tools.map((t) => `${t.name}: ${t.risk}`).join(', ')})`)

  const policies: PolicyRule[] = tools
    .filter((t) => t.calledBy.length > 0)
    .map((t) => ({
      id: slug(`allow-${t.name}`, 'allow'),
      description: `Seen in the imported traffic: ${t.calls} call(s) by ${t.calledBy.join(', ')}.`,
      effect: 'allow' as const,
      reason: 'SEEN_IN_TRAFFIC',
      tools: [t.name],
      roles: t.calledBy,
      when: [],
    }))
  notes.push('policy: default deny, with one allow rule per tool the traffic calls, for the roles that called it; add the conditions (amount limits, ownership) production really enforces')

  const observed = observedMaxima(records)
  const budgets = budgetsFrom(observed)
  notes.push(
    `budgets: the largest request seen (${observed.steps} step(s), ${observed.toolCalls} tool call(s), ${observed.totalTokens} tokens, ${observed.retries} retr${observed.retries === 1 ? 'y' : 'ies'}) ×${BUDGET_HEADROOM}, rounded up`,
  )

  const models = new Map<string, number>()
  for (const r of records) if (r.labels.model !== undefined) models.set(r.labels.model, (models.get(r.labels.model) ?? 0) + 1)
  const model = [...models.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null
  notes.push(
    model === null
      ? 'model: the log names none; model.name is a placeholder for the Ollama model to try'
      : `model: ${model} is the model the log names; with provider ollama, set model.name to the local model to try (shadow with model: recorded does not call it)`,
  )

  const prompts = input.systemPrompts ?? []
  let systemPrompt: Draft['systemPrompt']
  if (prompts.length === 0) {
    systemPrompt = {text: '<!-- review: the log carries no system prompt. Write the one production uses here. -->\n', source: 'placeholder', variants: 0}
    notes.push('prompts/system.md: the log carries no system prompt; it is a placeholder')
  } else {
    systemPrompt = {text: `${escapeTemplateVariables(prompts[0]!)}\n`, source: 'log', variants: prompts.length}
    notes.push(`prompts/system.md: the system prompt the log shows most often${prompts.length > 1 ? ` (of ${prompts.length} different ones)` : ''}`)
  }

  return {name: input.name, model, tools, policies, budgets, observed, tenants, roles, systemPrompt, notes}
}

/**
 * `{{…}}` in a prompt from a log is the service's own text, not a variable the runtime fills: all but
 * the known variables are broken up (`{ {`) so the template loads and the text reads the same.
 */
function escapeTemplateVariables(text: string): string {
  const known = new Set<string>(TEMPLATE_VARIABLES)
  if (templateVariables(text).every((u) => known.has(u.name))) return text
  return text.replace(/\{\{(\s*)([^{}]*?)(\s*)\}\}/g, (whole, a: string, name: string, b: string) => (known.has(name) ? whole : `{ {${a}${name}${b}} }`))
}

const REVIEW_RISK = ' review: risk guessed from the name'

/** bundle.yaml text: the schema line, then the manifest with a `# review:` comment at every guess. */
export function bundleYaml(draft: Draft, schemaRef: string): string {
  const manifest = {
    name: draft.name,
    version: '1.0.0',
    description: `Drafted by understudy init from imported traffic (${draft.tenants.length} tenant(s), ${draft.roles.length} role(s)). Review every "review:" comment.`,
    model: {provider: 'ollama', name: draft.model ?? 'llama3.1:8b', describe_constraints: true},
    prompts: {system: 'prompts/system.md'},
    tools: draft.tools.map((t) => ({
      name: t.name,
      description: t.description,
      risk: t.risk,
      // Write tools must be replay-safe: the sandbox ledger dedupes a retried call by its key.
      ...(t.risk === 'read' ? {} : {idempotency: 'required'}),
      args: t.args,
      roles: t.roles,
    })),
    policy_default: 'deny',
    policies: draft.policies.map(({when: _when, ...rule}) => rule),
    budgets: draft.budgets,
  }
  // No anchors: every tool gets its own copy of a shared roles map, as a reader expects.
  const doc = new Document(manifest, {aliasDuplicateObjects: false})
  doc.commentBefore = ` yaml-language-server: $schema=${schemaRef}\n Drafted by understudy init: every "review:" comment marks a guess to check before this bundle gates anything.`
  const tools = doc.get('tools', true) as unknown as {items: YAMLMap[]}
  draft.tools.forEach((t, i) => {
    const node = tools.items[i]!
    const risk = node.get('risk', true)
    if (isScalar(risk)) risk.comment = REVIEW_RISK
    if (t.notes.length > 0 && isMap(node)) node.commentBefore = t.notes.map((n) => ` review: ${n}`).join('\n')
  })
  const model = doc.getIn(['model', 'name'], true)
  if (isScalar(model)) model.comment = draft.model === null ? ' review: placeholder, the log names no model' : ' review: the model the log names; use the local model to try'
  const policyDefault = doc.get('policy_default', true)
  if (isScalar(policyDefault)) policyDefault.comment = ' review: only what the traffic showed is allowed'
  const budgets = doc.get('budgets', true)
  if (isMap(budgets)) budgets.commentBefore = ` review: observed maxima ×${BUDGET_HEADROOM}, rounded up`
  return doc.toString({lineWidth: 0})
}

export function scenarioYaml(name: string, schemaRef: string): string {
  const doc = new Document({
    name,
    description: 'Imported traffic replayed through the drafted bundle (understudy init).',
    traffic: 'traffic.jsonl',
    baseline: 'v1',
    candidate: 'v1',
    model: 'recorded',
  })
  doc.commentBefore = ` yaml-language-server: $schema=${schemaRef}`
  const candidate = doc.get('candidate', true)
  if (isScalar(candidate)) candidate.comment = ' copy v1 to v2, change it, and point candidate at v2'
  return doc.toString({lineWidth: 0})
}

export function readme(draft: Draft, source: {from: string; file: string; records: number; skipped: number}, dir: string): string {
  const lines = [
    `# ${draft.name}`,
    '',
    `Drafted by \`understudy init\` from ${source.from} log \`${source.file}\`: ${source.records} request(s) imported into \`traffic.jsonl\`${source.skipped > 0 ? `, ${source.skipped} line(s) or trace(s) skipped (run \`understudy traffic import\` on it to see why)` : ''}.`,
    '',
    '- `v1/bundle.yaml`, `v1/prompts/system.md`: the starting bundle.',
    '- `scenario.yaml`: replays the traffic with `model: recorded` (the recorded tool calls, judged by the bundle).',
    '- `schemas/`: JSON Schemas of bundle.yaml and scenario.yaml (`understudy schema bundle|scenario`), for editor completion.',
    '',
    '## Guessed: review before trusting a verdict',
    '',
    ...draft.notes.map((n) => `- ${n}`),
    '',
    'Each guess is also a `# review:` comment in `v1/bundle.yaml`.',
    '',
    '## Next',
    '',
    '```',
    `understudy shadow --scenario ${dir}`,
    'understudy report <run-id>',
    '```',
    '',
  ]
  return lines.join('\n')
}
