import {cpSync, existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {parse, stringify} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {storedRequestId} from '../../src/runtime/redact.js'
import {sha256} from '../../src/util/canonical.js'
import {removeTempDirs, tempDir} from '../factories/index.js'
import {repoRoot, runCli, type CliResult} from '../helpers/cli.js'

/**
 * OWASP LLM "sensitive information disclosure", end to end: secrets of every shape the redactor
 * knows are planted in a traffic file (input text, retrieved documents, memory, tool results with a
 * card number held as a JSON number and a secret used as an object key, the request ids) and in
 * the candidate bundle's description. Then every command that writes or prints what it stored runs
 * over it, and no artefact may hold any planted value: the store and its WAL, the md/json/html
 * reports, the OTel export, the cassette, and stdout and stderr of every command.
 */

const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const IBAN_GROUPED = 'GB82 WEST 1234 5698 7654 32'
const IBAN_PLAIN = 'DE89370400440532013000'
const PHONE_UK = '+44 20 7946 0958'
const PHONE_US = '+1-202-555-0143'
const PHONE_NA_PAREN = '(202) 555-0147'
const PHONE_NA_DASH = '202-555-0168'
const DB_PASSWORD = 'Tr0ub4dor-3x'
const DB_URL = `postgres://svc:${DB_PASSWORD}@10.0.0.5/app`
const CARD_TEXT = '4111 1111 1111 1111'
const CARD_NUMBER = 4539578763621486
/** Past 2^53: written as a bare JSON integer, which JSON.parse would round. */
const CARD_19 = '6011000990139424009'
const API_KEY = 'sk-live-Inp7Zq81mNw4Rt6Yb2Xc9Vf'
const KEY_AS_OBJECT_KEY = 'ghp_K3yAsAnObjectKey0123456789abcdefABCD'
const REQUEST_ID_1 = 'sk-live-Req1Zq81mNw4Rt6Yb2Xc9Vf'
const REQUEST_ID_2 = 'sk-live-Req2Zq81mNw4Rt6Yb2Xc9Vf'
const DESCRIPTION_KEY = 'sk-proj-Desc9aB8cD7eF6gH5iJ4kL3mN2'

/** Each planted value as written in the traffic file or the bundle. */
const WRITTEN: string[] = [
  ...[AWS_SECRET, IBAN_GROUPED, IBAN_PLAIN, PHONE_UK, PHONE_US, PHONE_NA_PAREN, PHONE_NA_DASH, DB_PASSWORD, CARD_TEXT, String(CARD_NUMBER), CARD_19],
  ...[API_KEY, KEY_AS_OBJECT_KEY, REQUEST_ID_1, REQUEST_ID_2, DESCRIPTION_KEY],
]

/**
 * What no artefact may hold: each planted value, the forms it could take there (separators
 * dropped, `/` escaped), and the first eight characters of each long one, so that a value cut short
 * (a preview of a message) is caught too.
 */
const PLANTED: string[] = [
  ...WRITTEN,
  IBAN_GROUPED.replace(/ /g, ''),
  PHONE_UK.replace(/ /g, ''),
  PHONE_US.replace(/\D/g, ''),
  CARD_TEXT.replace(/ /g, ''),
  AWS_SECRET.replace(/\//g, '\\/'),
  'bPxRfiCYEXAMPLEKEY',
  ...WRITTEN.filter((v) => v.length >= 16).map((v) => v.slice(0, 8)),
]

const scenario = path.join(repoRoot, 'scenarios', 'support-refunds')
const skill = path.join(scenario, 'skill', 'index.ts')

function trafficLines(): string {
  const order = (id: string, input: string, extra: Record<string, unknown>) => ({
    id,
    timestamp: '2025-07-01T00:50:13Z',
    tenant: 'acme',
    user: 'acme-agent-01',
    role: 'agent',
    session_id: 'sess-acme-112648',
    input: [{role: 'user', content: input}],
    retrieved: [
      {
        id: 'kb-acme-billing',
        source: 'help-centre',
        trust: 'internal',
        content: `Billing desk ${PHONE_US}, wire refunds to ${IBAN_PLAIN}; ledger at ${DB_URL}.`,
        score: 0.5,
        tenant: 'acme',
      },
    ],
    memory: [{key: 'callback', value: `Call back on ${PHONE_NA_DASH}`, owner: 'crm', written_at: '2025-06-29T14:56:47Z', provenance: 'crm:contact/1'}],
    production: {
      bundle: 'support-refunds@1.4.0',
      tool_calls: [
        {
          id: `${id}-call-1`,
          name: 'lookup_order',
          args: {order_id: 'ORD-100010'},
          latency_ms: 107,
          attempt: 1,
          result: {
            order_id: 'ORD-100010',
            status: 'delivered',
            amount: 112.06,
            currency: 'USD',
            ordered_at: '2025-06-06T22:26:42Z',
            items: 1,
            customer_email: 'ben.tanaka95@example.com',
            card_on_file: CARD_NUMBER,
            card_19: 0,
            support_line: PHONE_NA_PAREN,
            [KEY_AS_OBJECT_KEY]: {scope: 'repo'},
            ledger: DB_URL,
          },
        },
      ],
      policy_decisions: [{stage: 'mid_run', tool_call_id: `${id}-call-1`, tool: 'lookup_order', decision: 'allow', reason: 'READ_ALLOWED'}],
      final_answer: `Order ORD-100010 is delivered. Questions? Call ${PHONE_NA_DASH}.`,
      outcome: 'completed',
      usage: {input_tokens: 1490, output_tokens: 41},
      latency_ms: 872,
      cost_usd: 0.000807,
    },
    labels: {category: 'order_status', channel: 'chat'},
    ...extra,
  })
  const records = [
    order(
      REQUEST_ID_1,
      `Can you check the status of ORD-100010? My card is ${CARD_TEXT}, my key is ${API_KEY}, the AWS secret is ${AWS_SECRET}, pay ${IBAN_GROUPED}, call ${PHONE_UK}.`,
      {},
    ),
    order(REQUEST_ID_2, `Can you check the status of ORD-100010? Use card ${CARD_TEXT} and key ${API_KEY}.`, {}),
  ]
  // The 19-digit card as a bare JSON integer, as a recorder in another language would write it.
  return records.map((r) => JSON.stringify(r).replace('"card_19":0', `"card_19":${CARD_19}`)).join('\n') + '\n'
}

let dir: string
const outputs: {command: string; result: CliResult}[] = []
let runId: string

async function cli(args: string[], expected = 0): Promise<CliResult> {
  const result = await runCli([...args, '--db', path.join(dir, 'u.db')], {cwd: dir})
  outputs.push({command: args.join(' '), result})
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(expected)
  return result
}

beforeAll(async () => {
  dir = tempDir('understudy-planted-')
  writeFileSync(path.join(dir, 'traffic.jsonl'), trafficLines())
  const bundle = path.join(dir, 'candidate')
  cpSync(path.join(scenario, 'v2'), bundle, {recursive: true})
  const manifest = parse(readFileSync(path.join(bundle, 'bundle.yaml'), 'utf8')) as Record<string, unknown>
  manifest.description = `Support agent. Deploy key ${DESCRIPTION_KEY} (do not share).`
  writeFileSync(path.join(bundle, 'bundle.yaml'), stringify(manifest))
  writeFileSync(path.join(dir, 'empty-cassette.jsonl'), '')

  const common = ['traffic.jsonl', '--candidate', 'candidate', '--fixtures', path.join(scenario, 'fixtures.yaml'), '--skill', skill, '--concurrency', '1']
  const shadow = await cli(['shadow', ...common, '--record-cassette', 'cassette.jsonl', '--json'])
  runId = (JSON.parse(shadow.stdout) as {run: {id: string}}).run.id
  await cli(['shadow', ...common, '--run-name', 'replay'])
  // A replay from a cassette that holds nothing: the miss names the last user message.
  const miss = await cli(['shadow', ...common, '--replay-cassette', 'empty-cassette.jsonl'], 1)
  expect(miss.stderr).toContain('no cassette entry for this exchange')
  expect(miss.stderr).toContain('My card is [REDACTED')

  await cli(['runs', 'list'])
  await cli(['runs', 'show', runId])
  await cli(['runs', 'show', runId, '--json'])
  await cli(['diff', runId, '--only', 'all'])
  await cli(['diff', runId, '--request', REQUEST_ID_1])
  await cli(['diff', runId, '--json'])
  for (const format of ['md', 'json', 'html']) await cli(['report', runId, '--format', format, '--out', `report.${format}`])
  await cli(['trace', 'export', runId, '--otlp', 'otel.json', '--input'])
  await cli(['trace', 'export', runId, '--otlp', 'otel-recorded.json', '--side', 'recorded', '--input'])
  await cli(['eval', runId, '--suite', 'all'])
  await cli(['scorecard', runId])
}, 240_000)

afterAll(removeTempDirs)

describe('planted secrets (OWASP LLM sensitive information disclosure)', () => {
  it('were planted: the traffic file and the bundle hold every one', () => {
    const sources = readFileSync(path.join(dir, 'traffic.jsonl'), 'utf8') + readFileSync(path.join(dir, 'candidate', 'bundle.yaml'), 'utf8')
    for (const value of WRITTEN) expect(sources, value).toContain(value)
  })

  it('reach the store only as markers: the card held as a number, the object key, the request ids, the description', () => {
    const db = readFileSync(path.join(dir, 'u.db')).toString('latin1') + walText()
    expect(db).toContain(`[REDACTED:card:${sha256(String(CARD_NUMBER)).slice(0, 8)}]`)
    expect(db).toContain(`[REDACTED:card:${sha256(CARD_19).slice(0, 8)}]`)
    expect(db).toContain(`[REDACTED:github_token:${sha256(KEY_AS_OBJECT_KEY).slice(0, 8)}]`)
    expect(db).toContain(storedRequestId(REQUEST_ID_1))
    expect(db).toContain(storedRequestId(REQUEST_ID_2))
    expect(storedRequestId(REQUEST_ID_1)).not.toBe(storedRequestId(REQUEST_ID_2))
    expect(db).toContain(`Deploy key [REDACTED:api_key:${sha256(DESCRIPTION_KEY).slice(0, 8)}]`)
    expect(readFileSync(path.join(dir, 'cassette.jsonl'), 'utf8')).toContain('[REDACTED:')
  })

  it('appear in no artefact: store, WAL, reports, OTel exports, cassettes, stdout and stderr of every command', () => {
    const artefacts = new Map<string, string>()
    for (const file of readdirSync(dir)) {
      if (file === 'traffic.jsonl' || file === 'candidate') continue
      artefacts.set(file, readFileSync(path.join(dir, file)).toString('latin1'))
    }
    for (const expected of ['u.db', 'report.md', 'report.json', 'report.html', 'otel.json', 'otel-recorded.json', 'cassette.jsonl']) {
      expect([...artefacts.keys()]).toContain(expected)
    }
    for (const {command, result} of outputs) {
      artefacts.set(`stdout of ${command}`, result.stdout)
      artefacts.set(`stderr of ${command}`, result.stderr)
    }
    const hits: string[] = []
    for (const [where, text] of artefacts) for (const value of PLANTED) if (text.includes(value)) hits.push(`${value} in ${where}`)
    expect(hits).toEqual([])
  })
})

function walText(): string {
  const wal = path.join(dir, 'u.db-wal')
  return existsSync(wal) ? readFileSync(wal).toString('latin1') : ''
}
