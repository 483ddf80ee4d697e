import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {validateBundle} from '../../src/bundle/validate.js'
import {bundleYaml, draftBundle, guessRisk} from '../../src/init/draft.js'
import type {ToolDefinition} from '../../src/traffic/imported.js'
import {removeTempDirs, tempDir, trafficRecord} from '../factories/index.js'

/**
 * The bundle drafter on an IT help desk (a domain no scenario and no fixture has): tool definitions
 * as an OpenAI log would carry them, and traffic from two tenants and three roles.
 */
const DEFINITIONS: ToolDefinition[] = [
  {name: 'lookup_employee', description: 'Find an employee by email.', parameters: {type: 'object', properties: {email: {type: 'string', format: 'email'}}, required: ['email']}},
  {name: 'list_devices', description: 'Devices assigned to an employee.', parameters: {type: 'object', properties: {employee_id: {type: 'string'}}, required: ['employee_id']}},
  {name: 'open_ticket', description: 'Open a help-desk ticket.', parameters: {type: 'object', properties: {summary: {type: 'string', maxLength: 200}}, required: ['summary']}},
  {name: 'reset_password', description: 'Force a password reset.', parameters: {type: 'object', properties: {employee_id: {type: 'string'}}, required: ['employee_id']}},
  {name: 'wipe_laptop', description: 'Remotely wipe a laptop.', parameters: {type: 'object', properties: {device_id: {type: 'string'}}, required: ['device_id']}},
  // No argument schema in the log.
  {name: 'checkLicense'.toLowerCase(), description: 'License status.'},
]

const call = (id: string, name: string, args: Record<string, unknown> = {}, attempt = 1) => ({id, name, args, result: {ok: true}, latency_ms: 10, attempt})

const RECORDS = [
  trafficRecord({id: 'r1', tenant: 'globex', role: 'employee', labels: {model: 'gpt-4o', import_steps: '2'}, production: {tool_calls: [call('c1', 'lookup_employee', {email: 'a@globex.test'})], usage: {input_tokens: 300, output_tokens: 40}}}),
  trafficRecord({
    id: 'r2',
    tenant: 'globex',
    role: 'it_admin',
    labels: {model: 'gpt-4o'},
    production: {tool_calls: [call('c2', 'lookup_employee'), call('c3', 'reset_password', {employee_id: 'e7'}), call('c4', 'reset_password', {employee_id: 'e7'}, 2), call('c5', 'open_ticket', {summary: 'reset'})], usage: {input_tokens: 900, output_tokens: 101}},
  }),
  trafficRecord({id: 'r3', tenant: 'initech', role: 'it_admin', labels: {model: 'gpt-4o-mini'}, production: {tool_calls: [call('c6', 'escalate_to_oncall', {note: 'disk'})], usage: {input_tokens: 50, output_tokens: 5}}}),
]

afterAll(removeTempDirs)

describe('guessRisk', () => {
  it('reads read verbs as read, money/data/access verbs as write_high, other actions as write_low', () => {
    expect(['lookup_employee', 'list_devices', 'get_ticket', 'search_kb', 'checkLicense', 'find-user', 'readInbox'].map(guessRisk)).toEqual(Array(7).fill('read'))
    expect(['reset_password', 'wipe_laptop', 'revoke_access', 'delete_account', 'send_email', 'transferOwnership', 'cancel_order'].map(guessRisk)).toEqual(Array(7).fill('write_high'))
    expect(['open_ticket', 'update_status', 'assign_device', 'create_user'].map(guessRisk)).toEqual(Array(4).fill('write_low'))
  })

  it('does not call a name a read when it also deletes', () => {
    expect(guessRisk('get_and_delete_session')).toBe('write_high')
  })
})

describe('draftBundle on an IT help desk', () => {
  const draft = draftBundle({name: 'helpdesk', records: RECORDS, tools: DEFINITIONS, systemPrompts: ['You are the Globex IT desk. Greet {{user}} and quote ticket {{ticket_id}}.']})
  const tool = (name: string) => draft.tools.find((t) => t.name === name)!

  it('contracts every defined tool and every called one, with the log\'s schemas', () => {
    expect(draft.tools.map((t) => t.name)).toEqual(['checklicense', 'escalate_to_oncall', 'list_devices', 'lookup_employee', 'open_ticket', 'reset_password', 'wipe_laptop'])
    expect(tool('lookup_employee').args).toEqual(DEFINITIONS[0]!.parameters)
    expect(tool('lookup_employee').risk).toBe('read')
    expect(tool('reset_password').risk).toBe('write_high')
    expect(tool('open_ticket').risk).toBe('write_low')
  })

  it('gives a called-but-undefined tool, and a definition without parameters, a permissive schema and a review note', () => {
    expect(tool('escalate_to_oncall').args).toEqual({type: 'object'})
    expect(tool('escalate_to_oncall').notes.join()).toMatch(/never defined in the log/)
    expect(tool('checklicense').args).toEqual({type: 'object'})
    expect(tool('checklicense').notes.join()).toMatch(/no argument schema/)
    expect(draft.notes.some((n) => n.startsWith('tool escalate_to_oncall: called in the traffic but never defined'))).toBe(true)
  })

  it('allows exactly what the traffic shows, by the roles that did it', () => {
    expect(draft.policies.map((p) => [p.id, p.effect, p.tools, p.roles])).toEqual([
      ['allow-escalate_to_oncall', 'allow', ['escalate_to_oncall'], ['it_admin']],
      ['allow-lookup_employee', 'allow', ['lookup_employee'], ['employee', 'it_admin']],
      ['allow-open_ticket', 'allow', ['open_ticket'], ['it_admin']],
      ['allow-reset_password', 'allow', ['reset_password'], ['it_admin']],
    ])
    expect(tool('wipe_laptop').calledBy).toEqual([])
    expect(tool('wipe_laptop').notes.join()).toMatch(/never called/)
    expect(tool('reset_password').roles).toEqual({globex: ['employee', 'it_admin'], initech: ['it_admin']})
  })

  it('sets budgets from the observed maxima with ×1.5 headroom, rounded up', () => {
    expect(draft.observed).toEqual({steps: 5, toolCalls: 4, totalTokens: 1001, retries: 1})
    expect(draft.budgets).toEqual({max_steps: 8, max_tool_calls: 6, max_total_tokens: 1502, max_retries: 2})
  })

  it('takes the model the log names most and the system prompt it shows, unknown template variables broken up', () => {
    expect(draft.model).toBe('gpt-4o')
    expect(draft.systemPrompt.source).toBe('log')
    expect(draft.systemPrompt.text).toBe('You are the Globex IT desk. Greet {{user}} and quote ticket { {ticket_id} }.\n')
  })

  it('writes a placeholder prompt when the log has none', () => {
    const bare = draftBundle({name: 'helpdesk', records: RECORDS, tools: DEFINITIONS})
    expect(bare.systemPrompt.source).toBe('placeholder')
    expect(bare.notes.join('\n')).toMatch(/no system prompt/)
  })

  it('refuses tool names a bundle cannot hold, naming them', () => {
    expect(() => draftBundle({name: 'x', records: RECORDS, tools: [{name: 'OpenTicket'}]})).toThrow(/"OpenTicket".*snake_case/)
  })

  it('writes a bundle.yaml that validates: default deny, idempotent writes, review comments, the schema line first', async () => {
    const text = bundleYaml(draft, '../schemas/bundle.schema.json')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/bundle.schema.json')
    expect(text.match(/risk: \w+ # review: risk guessed from the name/g)).toHaveLength(7)
    expect(text).toMatch(/# review: called in the traffic but never defined in the log: its argument schema accepts any object\n  # review: no description in the log\n  - name: escalate_to_oncall\n/)
    const manifest = parse(text)
    expect(manifest.policy_default).toBe('deny')
    expect(manifest.model).toMatchObject({provider: 'ollama', name: 'gpt-4o'})
    const idem = Object.fromEntries(manifest.tools.map((t: {name: string; idempotency?: string}) => [t.name, t.idempotency ?? 'none']))
    expect(idem).toMatchObject({lookup_employee: 'none', open_ticket: 'required', reset_password: 'required', wipe_laptop: 'required'})
    expect(text).not.toMatch(/[&*]a\d/) // no YAML anchors for the shared roles map

    const dir = tempDir()
    mkdirSync(path.join(dir, 'prompts'))
    writeFileSync(path.join(dir, 'bundle.yaml'), text)
    writeFileSync(path.join(dir, 'prompts', 'system.md'), draft.systemPrompt.text)
    const v = await validateBundle(dir)
    expect(v.problems).toEqual([])
    expect(v.warnings).toEqual([])
    expect(readFileSync(path.join(dir, 'bundle.yaml'), 'utf8')).toBe(text)
  })
})
