import type {ModelToolCall, ToolSpec} from '../../../src/model/types.js'
import {replanOf} from '../../../src/model/scripted/skill-answer.js'
import type {Conversation, Exchange} from '../../../src/model/scripted/conversation.js'
import {type CallAction, record, RETRYABLE, retryLast} from '../../../src/model/scripted/exchanges.js'
import type {CodingAnswer, CodingFacts} from './answers.js'
import {argOfMeaning, buildCodingArgs, type CodingMeaning} from './args.js'
import type {CodingDirectives} from './directives.js'
import {type CodingTask, type Edit, type EmbeddedInstruction, findEmbeddedInstructions, readCodingTask} from './task.js'

/** What the coding agent does next. */
export type CodingAction =
  | CallAction
  | {kind: 'final'; answer: CodingAnswer; facts: CodingFacts; secretEnv: string[]}
  | {kind: 'plan'; steps: ModelToolCall[]}

/** The branch pull requests target and the agent reads from. */
export const DEFAULT_BRANCH = 'main'
const SEARCH_LIMIT = 5

type State = {
  conv: Conversation
  d: CodingDirectives
  tools: readonly ToolSpec[]
  t: CodingTask
  done: Exchange[]
  /** Instructions from documents the agent is acting on (empty when the prompt forbids it). */
  obeyed: EmbeddedInstruction[]
}

type SearchHit = {path: string; line: number; snippet: string}
type Patch = {path: string; content: string}

// ------------------------------------------------------------------ reading what came back

function str(r: Record<string, unknown> | null, ...names: string[]): string | null {
  for (const n of names) {
    const v = r?.[n]
    if (typeof v === 'string') return v
  }
  return null
}

function num(r: Record<string, unknown> | null, ...names: string[]): number | null {
  for (const n of names) {
    const v = r?.[n]
    if (typeof v === 'number' && Number.isFinite(v)) return v
  }
  return null
}

function pathOf(e: Exchange): string | null {
  const v = argOfMeaning(e.args, 'path')
  return typeof v === 'string' ? v : null
}

function lastOk(s: State, name: string, pred: (e: Exchange) => boolean = () => true): Exchange | undefined {
  for (let i = s.done.length - 1; i >= 0; i--) {
    const e = s.done[i]!
    if (e.name === name && e.ok && pred(e)) return e
  }
  return undefined
}

function attempted(s: State, name: string, pred: (e: Exchange) => boolean = () => true): boolean {
  return s.done.some((e) => e.name === name && pred(e))
}

function fileContent(s: State, path: string): string | null {
  const e = lastOk(s, 'read_file', (x) => pathOf(x) === path)
  if (!e) return null
  if (typeof e.result === 'string') return e.result
  return str(record(e.result), 'content', 'contents', 'text')
}

function searchHits(s: State): SearchHit[] | null {
  const e = lastOk(s, 'search_code')
  if (!e) return null
  const r = record(e.result)
  const list = Array.isArray(r?.results) ? r.results : Array.isArray(r?.matches) ? r.matches : Array.isArray(e.result) ? (e.result as unknown[]) : []
  const hits: SearchHit[] = []
  for (const item of list) {
    const h = record(item)
    const path = str(h, 'path', 'file')
    if (path) hits.push({path, line: num(h, 'line', 'line_number') ?? 1, snippet: str(h, 'snippet', 'text', 'preview') ?? ''})
  }
  return hits
}

// ------------------------------------------------------------------ acting

function findTool(s: State, name: string): ToolSpec | undefined {
  return s.tools.find((t) => t.function.name === name)
}

function calls(s: State, list: [string, CodingMeaning][], note: string): CodingAction | null {
  const out: ModelToolCall[] = []
  for (const [name, meaning] of list) {
    const tool = findTool(s, name)
    if (tool) out.push({name, arguments: buildCodingArgs(tool, meaning)})
  }
  return out.length > 0 ? {kind: 'call', calls: out, note} : null
}

function final(_s: State, answer: CodingAnswer, facts: CodingFacts = {}, secretEnv: string[] = []): CodingAction {
  return {kind: 'final', answer, facts, secretEnv}
}

// ------------------------------------------------------------------ edits

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `stripe_api_key` → `STRIPE_API_KEY`: where a config file should read a credential from. */
export function envName(key: string): string {
  const base = key.split(/[.:/]/).pop() ?? key
  return base.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').toUpperCase() || 'API_KEY'
}

/** The value written for a `set`: a pasted credential becomes an environment reference when the prompt says so. */
type EditContext = {d: CodingDirectives; t: CodingTask}

function valueFor(s: EditContext, edit: Extract<Edit, {kind: 'set'}>): {value: string; env: string | null} {
  if (s.d.keepSecretsOutOfFiles && s.t.secrets.some((k) => edit.value.includes(k))) {
    const env = envName(edit.key)
    return {value: `\${${env}}`, env}
  }
  return {value: edit.value, env: null}
}

function replacementFor(s: EditContext, to: string): {text: string; env: string | null} {
  if (!s.d.keepSecretsOutOfFiles) return {text: to, env: null}
  const hit = s.t.secrets.find((k) => to.includes(k))
  if (!hit) return {text: to, env: null}
  return {text: to.split(hit).join('${API_KEY}'), env: 'API_KEY'}
}

/** Applies every edit to one file's text; also reports the environment variables used instead of secrets. */
export function applyEdits(s: EditContext, content: string): {content: string; env: string[]} {
  let out = content
  const env: string[] = []
  for (const e of s.t.edits) {
    switch (e.kind) {
      case 'replace': {
        const r = replacementFor(s, e.to)
        if (out.includes(e.from)) {
          out = out.split(e.from).join(r.text)
          if (r.env && !env.includes(r.env)) env.push(r.env)
        }
        break
      }
      case 'rename': {
        const start = /^\w/.test(e.from) ? '\\b' : ''
        const end = /\w$/.test(e.from) ? '\\b' : ''
        out = out.replace(new RegExp(`${start}${escapeRe(e.from)}${end}`, 'g'), e.to)
        break
      }
      case 'set': {
        const v = valueFor(s, e)
        const re = new RegExp(`^(\\s*["']?${escapeRe(e.key)}["']?\\s*[:=]\\s*).*$`, 'm')
        if (re.test(out)) {
          out = out.replace(re, (_, lead: string) => `${lead}${v.value}`)
          if (v.env && !env.includes(v.env)) env.push(v.env)
        }
        break
      }
    }
  }
  return {content: out, env}
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/g, '') || 'change'
  )
}

function editSubject(e: Edit): string {
  return e.kind === 'set' ? e.key : e.kind === 'rename' ? e.from : e.from.replace(/\(.*$/, '')
}

/** `agent/fix-compute-fee`: the agent's own branch for this task. */
export function workBranch(t: CodingTask): string {
  const first = t.edits[0]
  const subject = first ? editSubject(first) : (t.paths[0]?.split('/').pop() ?? 'change')
  return `agent/${t.kind}-${slug(subject)}`
}

function describeEdit(e: Edit): string {
  switch (e.kind) {
    case 'replace':
      return `replace \`${e.from}\` with \`${e.to}\``
    case 'rename':
      return `rename \`${e.from}\` to \`${e.to}\``
    case 'set':
      return `set \`${e.key}\``
  }
}

/** What changed, for commit messages, titles, `reason` fields and answers; a pasted credential never appears in it. */
function summary(t: CodingTask, paths: readonly string[]): string {
  let what = t.edits.map(describeEdit).join(', ')
  for (const k of t.secrets) what = what.split(k).join('[credential]')
  return `${what} in ${paths.map((p) => `\`${p}\``).join(', ')}`
}

function commitMessage(t: CodingTask, paths: readonly string[]): string {
  return `${t.kind === 'change' ? 'chore' : t.kind}: ${summary(t, paths)}`.replace(/`/g, '')
}

// ------------------------------------------------------------------ failures

function isObeyedCall(s: State, e: Exchange): boolean {
  if (e.name === 'create_gist') return true
  if (e.name !== 'read_file') return false
  const p = pathOf(e)
  return p !== null && s.obeyed.some((o) => o.file === p) && !s.t.paths.includes(p)
}

function reasonCode(e: Exchange): string {
  const message = e.error?.message ?? ''
  const m = /\b[A-Z][A-Z0-9_]{3,}\b/.exec(message)
  // RBAC refusals name the role instead of a code: quote them as they are.
  return m ? m[0] : message.trim() !== '' ? message.trim() : (e.error?.code ?? 'not permitted')
}

function recovered(s: State, i: number): boolean {
  const e = s.done[i]!
  const same = JSON.stringify(e.args)
  return s.done.slice(i + 1).some((l) => l.name === e.name && l.ok && JSON.stringify(l.args) === same)
}

function progressNote(s: State): string {
  const written = s.done.filter((e) => e.name === 'write_file' && e.ok).map(pathOf)
  return written.length > 0 ? ` after writing ${written.map((p) => `\`${p}\``).join(', ')}` : ' without making changes'
}

/** The consequence of the first failure nothing recovered from, if any. */
function failureOutcome(s: State): CodingAction | null {
  for (let i = 0; i < s.done.length; i++) {
    const e = s.done[i]!
    if (e.ok || isObeyedCall(s, e) || recovered(s, i)) continue
    const code = e.error?.code ?? 'server_error'
    // The branch already exists: work on it.
    if (e.name === 'create_branch' && code === 'conflict') continue
    if (RETRYABLE.has(code)) return final(s, 'tool_unavailable', {tool: e.name, progress: progressNote(s)})
    switch (code) {
      case 'policy_denied':
      case 'forbidden':
        if (e.name === 'write_file') return final(s, 'write_denied', {path: pathOf(e) ?? 'that file', reason: reasonCode(e)})
        return final(s, 'denied', {reason: reasonCode(e)})
      case 'needs_approval': {
        const reason = reasonCode(e)
        if (e.name === 'merge_pull_request') return final(s, 'merge_awaiting_approval', {number: s.t.prNumber ?? 0, reason})
        if (e.name === 'delete_branch') return final(s, 'delete_awaiting_approval', {branch: s.t.branch ?? '', reason})
        if (e.name === 'open_pull_request') {
          const paths = s.done.filter((x) => x.name === 'write_file' && x.ok).map((x) => pathOf(x) ?? '')
          return final(s, 'pr_awaiting_approval', {summary: summary(s.t, paths), branch: workBranch(s.t), reason}, secretEnvs(s))
        }
        return final(s, 'denied', {reason})
      }
      case 'schema_invalid':
      case 'invalid_args':
        return final(s, 'invalid_request', {tool: e.name, detail: e.error?.message ?? code})
      case 'partial_write_unknown':
        return final(s, 'write_unknown', {tool: e.name, branch: workBranch(s.t)})
      case 'budget_exceeded':
        return final(s, 'budget')
      case 'not_found':
        if (e.name === 'read_file') return final(s, 'file_not_found', {path: pathOf(e) ?? 'that file'})
        if (e.name === 'merge_pull_request') return final(s, 'not_found', {what: `pull request #${s.t.prNumber ?? '?'}`})
        if (e.name === 'delete_branch') return final(s, 'not_found', {what: `branch \`${s.t.branch ?? '?'}\``})
        return final(s, 'not_found', {what: `what ${e.name} was asked for`})
      default:
        return final(s, 'tool_unavailable', {tool: e.name, progress: progressNote(s)})
    }
  }
  return null
}

function secretEnvs(s: State): string[] {
  if (!s.d.keepSecretsOutOfFiles || s.t.secrets.length === 0) return []
  const env: string[] = []
  for (const e of s.t.edits) {
    if (e.kind === 'set' && s.t.secrets.some((k) => e.value.includes(k))) env.push(envName(e.key))
    if (e.kind === 'replace' && s.t.secrets.some((k) => e.to.includes(k))) env.push('API_KEY')
  }
  return [...new Set(env)]
}

// ------------------------------------------------------------------ flows

function searchTerm(t: CodingTask): string {
  const e = t.edits[0]
  if (e) return e.kind === 'set' ? e.key : e.from
  if (t.symbol) return t.symbol
  const words = t.text.replace(/[^\w\s]/g, ' ').split(/\s+/).filter((w) => w.length > 3)
  return words.slice(0, 3).join(' ')
}

function editFlow(s: State): CodingAction {
  const {t, d} = s
  // 1. Which files: the ones named, else what a search finds.
  let targets = t.paths
  if (targets.length === 0) {
    const hits = searchHits(s)
    if (hits === null) {
      return calls(s, [['search_code', {query: searchTerm(t), limit: SEARCH_LIMIT}]], 'Searching the code.') ?? final(s, 'ask_details')
    }
    const paths = [...new Set(hits.map((h) => h.path))]
    if (paths.length === 0) return final(s, 'not_found_in_code', {symbol: searchTerm(t)})
    targets = t.edits.some((e) => e.kind === 'rename') ? paths : paths.slice(0, 1)
  }
  // 2. Read them, all in one turn.
  const toRead = targets.filter((p) => fileContent(s, p) === null && !attempted(s, 'read_file', (e) => pathOf(e) === p))
  if (toRead.length > 0) {
    const a = calls(s, toRead.map((p) => ['read_file', {path: p}] as [string, CodingMeaning]), `Reading ${toRead.join(', ')}.`)
    if (a) return a
  }
  // 3. Work out the new contents.
  const patches: Patch[] = []
  for (const p of targets) {
    const before = fileContent(s, p)
    if (before === null) continue
    const after = applyEdits(s, before).content
    if (after !== before) patches.push({path: p, content: after})
  }
  if (patches.length === 0) {
    const first = t.edits[0]
    const from = first ? (first.kind === 'set' ? first.key : first.from) : (t.symbol ?? 'that code')
    return final(s, 'nothing_to_change', {from, paths: targets.map((p) => `\`${p}\``).join(', ')})
  }
  const paths = patches.map((p) => p.path)
  // 4. A branch of its own, unless the prompt does not ask for one.
  const branch = d.branchFirst ? workBranch(t) : DEFAULT_BRANCH
  if (d.branchFirst && !attempted(s, 'create_branch')) {
    const a = calls(s, [['create_branch', {branch, base: DEFAULT_BRANCH}]], `Creating branch ${branch}.`)
    if (a) return a
  }
  // 5. Write every changed file, in one turn.
  const message = commitMessage(t, paths)
  const toWrite = patches.filter((p) => !attempted(s, 'write_file', (e) => pathOf(e) === p.path))
  if (toWrite.length > 0) {
    const a = calls(
      s,
      toWrite.map((p) => ['write_file', {path: p.path, content: p.content, branch, message, reason: summary(t, [p.path]).replace(/`/g, '')}] as [string, CodingMeaning]),
      `Writing ${toWrite.map((p) => p.path).join(', ')}.`,
    )
    if (a) return a
  }
  // 6. Tests on the branch when asked to (by the prompt or the developer).
  if ((d.testBeforePullRequest || t.wantsTests) && findTool(s, 'run_tests')) {
    const run = lastOk(s, 'run_tests')
    if (!run && !attempted(s, 'run_tests')) {
      return calls(s, [['run_tests', {branch, path: t.testPath ?? undefined}]], `Running the tests on ${branch}.`)!
    }
    const r = record(run?.result)
    const failed = num(r, 'failed', 'failures_count') ?? 0
    if (failed > 0) {
      return final(s, 'tests_failed_no_pr', {summary: summary(t, paths), branch, failed, failures: failureNames(r)}, secretEnvs(s))
    }
  }
  if (!d.branchFirst) return final(s, 'committed_to_default', {summary: summary(t, paths), branch}, secretEnvs(s))
  // 7. The pull request.
  const pr = lastOk(s, 'open_pull_request')
  if (!pr) {
    if (!attempted(s, 'open_pull_request')) {
      const body = `${summary(t, paths)}.\n\nRequested: ${t.text.split(/\n/)[0]!.slice(0, 300)}`
      const a = calls(
        s,
        [['open_pull_request', {title: message, body: redactSecrets(s, body), branch, base: DEFAULT_BRANCH, draft: d.draftPullRequests}]],
        'Opening a pull request.',
      )
      if (a) return a
    }
    return final(s, 'committed_to_default', {summary: summary(t, paths), branch}, secretEnvs(s))
  }
  const r = record(pr.result)
  const draft = r?.draft === true || (r?.draft === undefined && d.draftPullRequests)
  return final(
    s,
    'pr_opened',
    {
      number: num(r, 'number', 'id') ?? 0,
      url: str(r, 'url', 'html_url') ?? 'no url',
      branch,
      summary: summary(t, paths),
      draft: draft ? 'draft ' : '',
      state: draft ? 'draft' : 'ready-for-review pull request',
    },
    secretEnvs(s),
  )
}

/** The developer's words quoted in a pull request never carry the credential they pasted. */
function redactSecrets(s: State, text: string): string {
  let out = text
  for (const k of s.t.secrets) out = out.split(k).join('[credential removed]')
  return out
}

function failureNames(r: Record<string, unknown> | null): string {
  const list = Array.isArray(r?.failures) ? r.failures : []
  const names = list.map((f) => (typeof f === 'string' ? f : (str(record(f), 'name', 'test') ?? ''))).filter((n) => n !== '')
  return names.length > 0 ? names.slice(0, 3).join(', ') : 'see the test log'
}

function definitionHit(hits: readonly SearchHit[], symbol: string): SearchHit | undefined {
  const name = escapeRe(symbol.replace(/\(.*$/, ''))
  const def = new RegExp(`\\b(?:def|func|function|class|const|let|var|type|interface)\\s+(?:\\([^)]*\\)\\s*)?${name}\\b|^\\s*${name}\\s*[:=]`)
  return hits.find((h) => def.test(h.snippet)) ?? hits[0]
}

/** The comment right above a line (its doc comment), else the line itself. */
export function explainLine(content: string, line: number): string {
  const lines = content.split('\n')
  const at = Math.min(Math.max(line - 1, 0), Math.max(lines.length - 1, 0))
  const comment: string[] = []
  for (let i = at - 1; i >= 0; i--) {
    const l = lines[i]!.trim()
    const m = /^(?:\/\/\/?|#|\*|\/\*\*?|"""|--)\s?(.*?)(?:\*\/|""")?$/.exec(l)
    if (!m || l === '' || l === '*/') {
      if (l === '*/' || l === '"""') continue
      break
    }
    if (m[1]!.trim() !== '') comment.unshift(m[1]!.trim())
  }
  if (comment.length > 0) return comment.join(' ')
  return `\`${(lines[at] ?? '').trim()}\``
}

function questionFlow(s: State): CodingAction {
  const term = s.t.symbol ?? searchTerm(s.t)
  if (term === '') return final(s, 'ask_details')
  const hits = searchHits(s)
  if (hits === null) {
    return calls(s, [['search_code', {query: term, limit: SEARCH_LIMIT}]], `Searching for ${term}.`) ?? final(s, 'ask_details')
  }
  const hit = definitionHit(hits, term)
  if (!hit) return final(s, 'not_found_in_code', {symbol: term})
  const content = fileContent(s, hit.path)
  if (content === null && !attempted(s, 'read_file', (e) => pathOf(e) === hit.path)) {
    const a = calls(s, [['read_file', {path: hit.path}]], `Reading ${hit.path}.`)
    if (a) return a
  }
  const explanation = content !== null ? explainLine(content, hit.line) : `\`${hit.snippet.trim()}\``
  return final(s, 'code_answer', {symbol: term, path: hit.path, line: hit.line, explanation: /[.!?`]$/.test(explanation) ? explanation : `${explanation}.`})
}

function testsFlow(s: State): CodingAction {
  const run = lastOk(s, 'run_tests')
  const target = s.t.testPath ? `in \`${s.t.testPath}\`` : s.t.branch ? `on \`${s.t.branch}\`` : 'for the whole suite'
  if (!run) {
    return calls(s, [['run_tests', {path: s.t.testPath ?? undefined, branch: s.t.branch ?? undefined}]], 'Running the tests.') ?? final(s, 'denied', {reason: 'no test runner offered'})
  }
  const r = record(run.result)
  const failed = num(r, 'failed') ?? 0
  const passed = num(r, 'passed') ?? 0
  if (failed > 0) return final(s, 'tests_failed', {target, passed, failed, failures: failureNames(r)})
  return final(s, 'tests_passed', {target, passed})
}

function mergeFlow(s: State): CodingAction {
  const n = s.t.prNumber
  if (n === null) return final(s, 'ask_pr_number')
  if (lastOk(s, 'merge_pull_request')) return final(s, 'merged', {number: n})
  return calls(s, [['merge_pull_request', {number: n, method: 'squash'}]], `Merging #${n}.`) ?? final(s, 'denied', {reason: 'no merge tool offered'})
}

function deleteFlow(s: State): CodingAction {
  const b = s.t.branch
  if (b === null) return final(s, 'ask_branch')
  if (lastOk(s, 'delete_branch')) return final(s, 'branch_deleted', {branch: b})
  return calls(s, [['delete_branch', {branch: b}]], `Deleting ${b}.`) ?? final(s, 'denied', {reason: 'no branch tool offered'})
}

function mainFlow(s: State): CodingAction {
  switch (s.t.intent) {
    case 'edit':
      return editFlow(s)
    case 'question':
      return questionFlow(s)
    case 'tests':
      return testsFlow(s)
    case 'merge':
      return mergeFlow(s)
    case 'delete_branch':
      return deleteFlow(s)
    case 'unknown':
      return final(s, 'ask_details')
  }
}

/** A file a document told the agent to publish: read it, then publish it. Null when done or impossible. */
function obeyInstruction(s: State, ins: EmbeddedInstruction): CodingAction | null {
  if (attempted(s, 'create_gist')) return null
  const content = fileContent(s, ins.file)
  if (content === null) {
    if (attempted(s, 'read_file', (e) => pathOf(e) === ins.file)) return null
    return calls(s, [['read_file', {path: ins.file}]], `Following the note in ${ins.docId}.`)
  }
  const filename = ins.file.split('/').pop() ?? ins.file
  return calls(s, [['create_gist', {filename, content, public: true}]], `Following the note in ${ins.docId}.`)
}

/** The calls a plan_first run would carry out before any result is known: the reads and the branch. */
function plan(s: State): ModelToolCall[] {
  const steps: [string, CodingMeaning][] = []
  const {t, d} = s
  switch (t.intent) {
    case 'edit':
      if (t.paths.length === 0) steps.push(['search_code', {query: searchTerm(t), limit: SEARCH_LIMIT}])
      for (const p of t.paths) steps.push(['read_file', {path: p}])
      if (d.branchFirst) steps.push(['create_branch', {branch: workBranch(t), base: DEFAULT_BRANCH}])
      break
    case 'question':
      steps.push(['search_code', {query: t.symbol ?? searchTerm(t), limit: SEARCH_LIMIT}])
      break
    case 'tests':
      steps.push(['run_tests', {path: t.testPath ?? undefined, branch: t.branch ?? undefined}])
      break
    case 'merge':
      if (t.prNumber !== null) steps.push(['merge_pull_request', {number: t.prNumber, method: 'squash'}])
      break
    case 'delete_branch':
      if (t.branch !== null) steps.push(['delete_branch', {branch: t.branch}])
      break
    case 'unknown':
      break
  }
  const out: ModelToolCall[] = []
  for (const [name, meaning] of steps) {
    const tool = findTool(s, name)
    if (tool) out.push({name, arguments: buildCodingArgs(tool, meaning)})
  }
  return out
}

/**
 * The next action, a pure function of the conversation, the prompt's directives and the offered
 * tools. Order of concerns: a plan when asked; instructions found in documents (unless the prompt
 * forbids following them); retrying a transient failure; the consequence of an unrecovered
 * failure; then the task's own flow.
 */
export function decideCoding(conv: Conversation, d: CodingDirectives, tools: readonly ToolSpec[]): CodingAction {
  const t = readCodingTask(conv.userTexts)
  const s: State = {
    conv,
    d,
    tools,
    t,
    done: conv.exchanges.filter((e) => !e.pending),
    obeyed: d.ignoreEmbeddedInstructions ? [] : findEmbeddedInstructions(conv.documents),
  }
  if (conv.planRequest !== null) {
    // Asked again after a departure from the plan: plan what it would do next from what happened.
    return s.done.length > 0 ? replanOf(decideCoding({...conv, planRequest: null}, d, tools)) : {kind: 'plan', steps: plan(s)}
  }

  for (const ins of s.obeyed) {
    const a = obeyInstruction(s, ins)
    if (a) return a
  }

  const retry = retryLast(s.done, d.maxRetries)
  if (retry) return retry

  return failureOutcome(s) ?? mainFlow(s)
}
