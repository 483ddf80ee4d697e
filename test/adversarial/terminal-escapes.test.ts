import {cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {removeTempDirs, tempDir} from '../factories/temp-dir.js'
import {repoRoot, runCli, type CliResult} from '../helpers/cli.js'

// Adversarial: recorded traffic (and a bundle, and a run name) whose every printable field carries
// what a terminal acts on. Every command that prints data is run over it; none may hand the
// terminal a raw escape. A new command is one more row in COMMANDS.

/** OSC 52 clipboard write, screen clear, title change, a C1 CSI, a bidi override, and SGR conceal. */
const HOSTILE = 'x\u001b]52;c;cHduZWQ=\u0007\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202eevil\u2066\u001b[8m'
/** The hostile text as the escaped output shows it (its first control; a quoted field path has it JSON-escaped). */
const SHOWN = /\\(x1b|u001b)\]52;c;cHduZWQ=/
/** Any character a terminal acts on: C0 but \n and \t, DEL, C1, bidi and line-separator controls. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/
/** Our own colour: SGR sequences. */
const SGR = /\u001b\[[0-9;]*m/g

let dir: string
let traffic: string
let bundle: string
let db: string
let runId: string
let requestId: string
let bundleRef: string
let shadowOutput: CliResult
let openAiLog: string

function hostileTraffic(): string {
  const lines = readFileSync(path.join(repoRoot, 'test/fixtures/traffic/small.jsonl'), 'utf8').split('\n').filter(Boolean)
  const out = lines.map((line, i) => {
    const r = JSON.parse(line)
    r.id = `${r.id}${HOSTILE}`
    if (i % 2 === 0) r.tenant = `${r.tenant}${HOSTILE}`
    r.user = `${r.user}${HOSTILE}`
    if (i === 0) r.role = `${r.role}${HOSTILE}`
    r.labels = {category: `cat${HOSTILE}`, [`k${HOSTILE}`]: HOSTILE}
    for (const c of r.production.tool_calls ?? []) {
      c.args = {...c.args, note: HOSTILE}
      if (i === 2) c.name = `${c.name}${HOSTILE}`
    }
    for (const d of r.production.policy_decisions ?? []) d.reason = `${d.reason}${HOSTILE}`
    r.production.final_answer = `answer ${HOSTILE}`
    r.expect = {answer_contains: [HOSTILE], forbidden_tools: [`tool${HOSTILE}`]}
    if (r.input[0]) r.input[0].content += HOSTILE
    return JSON.stringify(r)
  })
  // And a line the schema rejects, with hostile values, for `traffic validate`.
  out.push(JSON.stringify({id: HOSTILE, tenant: 7, role: HOSTILE, labels: {[HOSTILE]: 5}}))
  return out.join('\n') + '\n'
}

beforeAll(async () => {
  dir = tempDir('understudy-adversarial-')
  traffic = path.join(dir, 'traffic.jsonl')
  writeFileSync(traffic, hostileTraffic())
  bundle = path.join(dir, 'bundle')
  cpSync(path.join(repoRoot, 'test/fixtures/bundles/refunds-v2'), bundle, {recursive: true})
  const manifest = path.join(bundle, 'bundle.yaml')
  writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('version: 2.0.0', `version: ${JSON.stringify(`2.0.0${HOSTILE}`)}`))
  writeFileSync(path.join(bundle, 'prompts/system.md'), `${readFileSync(path.join(bundle, 'prompts/system.md'), 'utf8')}\n${HOSTILE}\n`)
  // An OpenAI log whose tool name init refuses, quoting it.
  openAiLog = path.join(dir, 'openai.jsonl')
  const answer = {id: 'chatcmpl-1', created: 1770714000, choices: [{message: {role: 'assistant', content: `ok ${HOSTILE}`}, finish_reason: 'stop'}], usage: {prompt_tokens: 5, completion_tokens: 1}}
  const tools = [{type: 'function', function: {name: `lookup${HOSTILE}`, description: HOSTILE, parameters: {type: 'object'}}}]
  writeFileSync(openAiLog, `${JSON.stringify({metadata: {tenant: 't', role: 'r'}, request: {model: 'm', user: 'u', messages: [{role: 'user', content: HOSTILE}], tools}, response: answer})}\n`)
  db = path.join(dir, 'u.db')
  shadowOutput = await runCli(['shadow', traffic, '--candidate', bundle, '--skill', 'generic', '--db', db, '--run-name', `run${HOSTILE}`])
  expect(shadowOutput.code, shadowOutput.stderr).toBe(0)
  const listed = await runCli(['runs', 'list', '--db', db, '--json'])
  runId = JSON.parse(listed.stdout).runs[0].id
  requestId = JSON.parse(readFileSync(traffic, 'utf8').split('\n')[0]!).id
  bundleRef = JSON.parse((await runCli(['bundle', 'hash', bundle, '--json'])).stdout).ref
}, 120_000)
afterAll(removeTempDirs)

type Row = {
  name: string
  args: () => string[]
  /** The hostile text reaches this command's text output (shown escaped): the check is not vacuous. */
  shows: boolean
  /** Its --json document holds the hostile text (default: `shows`). */
  jsonShows?: boolean
}

/** Every command that prints data. */
const COMMANDS: Row[] = [
  {name: 'traffic stats', args: () => ['traffic', 'stats', traffic], shows: true},
  {name: 'traffic validate', args: () => ['traffic', 'validate', traffic], shows: true, jsonShows: false},
  {name: 'runs list', args: () => ['runs', 'list', '--db', db], shows: true},
  {name: 'runs show', args: () => ['runs', 'show', runId, '--db', db], shows: true},
  {name: 'runs show (no such run)', args: () => ['runs', 'show', `r${HOSTILE}`, '--db', db], shows: true},
  {name: 'diff', args: () => ['diff', runId, '--only', 'all', '--db', db], shows: true},
  {name: 'diff --request', args: () => ['diff', runId, '--request', requestId, '--db', db], shows: true},
  // The hostile prompt line is the change bisect names (its label quotes the hunk).
  {name: 'bisect', args: () => ['bisect', runId, '--db', db, '--baseline', path.join(repoRoot, 'test/fixtures/bundles/refunds-v2'), '--sample', '1'], shows: true},
  {name: 'report md', args: () => ['report', runId, '--db', db], shows: true, jsonShows: false},
  {name: 'report html', args: () => ['report', runId, '--format', 'html', '--db', db], shows: true, jsonShows: false},
  {name: 'scorecard', args: () => ['scorecard', runId, '--db', db], shows: false},
  {name: 'eval', args: () => ['eval', runId, '--db', db], shows: true},
  {name: 'budget check', args: () => ['budget', 'check', runId, '--db', db], shows: true},
  {name: 'budget tenants', args: () => ['budget', 'tenants', runId, '--db', db], shows: true},
  {name: 'budget simulate', args: () => ['budget', 'simulate', runId, '--max-tool-calls', '0', '--side', 'recorded', '--db', db], shows: true},
  {name: 'budget show', args: () => ['budget', 'show', bundle], shows: true},
  {name: 'incident audit', args: () => ['incident', 'audit', runId, '--side', 'recorded', '--db', db], shows: true},
  {name: 'rollout plan', args: () => ['rollout', 'plan', runId, '--db', db], shows: true},
  // The hostile run holds no call for approval, so these print no hostile text; nothing a terminal acts on either.
  {name: 'approvals list', args: () => ['approvals', 'list', runId, '--db', db], shows: false},
  {name: 'approvals decide', args: () => ['approvals', 'decide', runId, '--reject', `req${HOSTILE}#0`, '--by', `who${HOSTILE}`, '--db', db], shows: false},
  {name: 'approvals apply', args: () => ['approvals', 'apply', runId, '--db', db], shows: false},
  {name: 'bundle diff', args: () => ['bundle', 'diff', path.join(repoRoot, 'test/fixtures/bundles/refunds-v1'), bundle], shows: true},
  {name: 'bundle hash', args: () => ['bundle', 'hash', bundle], shows: true},
  {name: 'bundle validate', args: () => ['bundle', 'validate', bundle], shows: true},
  {name: 'rollout promote', args: () => ['rollout', 'promote', bundle, '--stage', 'canary-1', '--tenant', `t${HOSTILE}`, '--note', HOSTILE, '--db', db], shows: true},
  {name: 'rollout history', args: () => ['rollout', 'history', '--db', db], shows: true},
  {name: 'incident mark-bad', args: () => ['incident', 'mark-bad', bundleRef, '--note', HOSTILE, '--db', db], shows: true},
  {name: 'incident kill-switch', args: () => ['incident', 'kill-switch', bundle, 'issue_refund', '--out', fresh()], shows: true},
  {name: 'incident degrade', args: () => ['incident', 'degrade', bundle, '--mode', 'read_only', '--out', fresh()], shows: true},
  {name: 'incident rollback', args: () => ['incident', 'rollback', '--to', bundle, '--out', fresh(), '--db', db], shows: true},
  {name: 'incident to-test', args: () => ['incident', 'to-test', runId, '--request', requestId, '--out', fresh('golden.jsonl'), '--db', db], shows: true},
  {name: 'init', args: () => ['init', fresh(), '--from', 'openai', openAiLog], shows: true, jsonShows: false},
  {name: 'trace export', args: () => ['trace', 'export', runId, '--otlp', fresh('otlp.json'), '--db', db], shows: false},
  {name: 'report junit', args: () => ['report', runId, '--format', 'junit', '--testcase', 'request', '--db', db], shows: true, jsonShows: false},
  {name: 'report summary', args: () => ['report', runId, '--format', 'summary', '--full-report', `report${HOSTILE}.html`, '--db', db], shows: true, jsonShows: false},
  {name: 'runs compare', args: () => ['runs', 'compare', runId, runId, '--db', db], shows: false},
  // Nothing is removed: no such run, and a prune that keeps every run.
  {name: 'runs rm (no such run)', args: () => ['runs', 'rm', `r${HOSTILE}`, '--yes', '--db', db], shows: true},
  {name: 'runs prune', args: () => ['runs', 'prune', '--keep', '100', '--yes', '--db', db], shows: false},
  {name: 'runs merge (no such shard)', args: () => ['runs', 'merge', fresh(`shard${HOSTILE}.db`), '--into', fresh('merged.db')], shows: true},
  // The image name reaches the printed YAML only as a quoted YAML string (\e escapes), never raw.
  {name: 'shard plan', args: () => ['shard', 'plan', traffic, '--candidate', bundle, '--shards', '2', '--image', `img${HOSTILE}`], shows: false},
  {name: 'accept (no such cause)', args: () => ['accept', runId, '--cause', 'abcd0123', '--by', `who${HOSTILE}`, '--reason', HOSTILE, '--accepted', fresh('accepted.yaml'), '--db', db], shows: false},
]

let made = 0
/** A path that does not exist yet, for commands that write somewhere new each time. */
function fresh(name = 'out'): string {
  const parent = path.join(dir, `fresh-${++made}`)
  mkdirSync(parent)
  return path.join(parent, name)
}

function unsafeIn(text: string): string[] {
  return [...text].filter((c) => UNSAFE.test(c)).map((c) => `U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

describe('no terminal escape from data reaches the terminal', () => {
  it('shadow itself (progress and summary)', () => {
    expect(unsafeIn(shadowOutput.stdout + shadowOutput.stderr)).toEqual([])
  })

  it.each(COMMANDS)('$name: text output', async (row) => {
    const r = await runCli(row.args())
    const all = r.stdout + r.stderr
    expect(unsafeIn(all), all).toEqual([])
    if (row.shows) expect(all).toMatch(SHOWN)
  })

  it.each(COMMANDS)('$name: coloured text output keeps our colour, never the data\'s', async (row) => {
    const r = await runCli(row.args(), {env: {NO_COLOR: '', FORCE_COLOR: '1'}})
    const all = r.stdout + r.stderr
    expect(all).not.toContain('\u001b[8m')
    expect(unsafeIn(all.replace(SGR, '')), all).toEqual([])
  })

  it.each(COMMANDS)('$name: --json is valid JSON, holds the data as it was, and nothing a terminal acts on', async (row) => {
    const r = await runCli([...row.args(), '--json'])
    expect(unsafeIn(r.stdout + r.stderr)).toEqual([])
    const doc = JSON.parse(r.stdout)
    if (row.jsonShows ?? row.shows) expect(JSON.stringify(doc)).toContain(JSON.stringify(HOSTILE).slice(1, -1))
  })

  it('report --format json on stdout is valid JSON holding the data as it was', async () => {
    const r = await runCli(['report', runId, '--format', 'json', '--db', db])
    expect(unsafeIn(r.stdout)).toEqual([])
    expect(JSON.stringify(JSON.parse(r.stdout))).toContain(JSON.stringify(HOSTILE).slice(1, -1))
  })

  it('every command is in the list above (a new command that prints data gets a row)', () => {
    const ids = readdirSync(path.join(repoRoot, 'commands'), {recursive: true, encoding: 'utf8'})
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.replace(/\.ts$/, '').split(path.sep).join(' '))
    // Checked elsewhere: shadow above; tui in test/tui (oneLine); the rest print through the same
    // BaseCommand output as every row here (the last test), with inputs too costly to build here.
    // schema prints only what the project's own zod schemas say.
    const elsewhere = new Set(['shadow', 'tui', 'drill', 'sandbox ollama', 'traffic import', 'schema'])
    const listed = new Set(COMMANDS.map((c) => c.name.split(' (')[0]!.replace(/ (--request|md|html)$/, '')))
    expect(ids.filter((id) => !listed.has(id) && !elsewhere.has(id)).sort()).toEqual([])
  })

  it('commands write only through BaseCommand (out, write, err, the JSON document), never to the process streams', () => {
    const files = readdirSync(path.join(repoRoot, 'commands'), {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.ts'))
    const offenders = files.filter((f) => /process\.std(out|err)\.write|console\.(log|error|warn|info)|this\.log\(/.test(readFileSync(path.join(repoRoot, 'commands', f), 'utf8')))
    expect(offenders).toEqual([])
  })
})
