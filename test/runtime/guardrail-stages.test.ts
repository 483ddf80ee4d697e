import path from 'node:path'
import {describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {secretsInArgs} from '../../src/runtime/guardrails/secret-args.js'
import type {RequestTrace} from '../../src/trace/schema.js'
import {repoRoot} from '../helpers/cli.js'
import {replayScenario, withManifest} from '../helpers/scenario-replay.js'

/** The guardrail stages of #18, each on a case from a shipped scenario. */

const coding = path.join(repoRoot, 'scenarios', 'coding-agent')

describe('pre-call secret scan of tool arguments (guardrails.scan_args_for_secrets)', () => {
  it('finds credentials, not personal data, and skips the contract\'s sensitive fields', () => {
    const args = {to: 'ana@example.com', body: 'use key sk-live4f9a8b7c6d5e4f3a2b1c0 please', iban: 'DE89370400440532013000', items: [{auth: 'Bearer abcdefghijklmnop1234'}]}
    expect(secretsInArgs(args, [])).toEqual([
      {path: 'body', kind: 'api_key'},
      {path: 'items.auth', kind: 'bearer_token'},
    ])
    expect(secretsInArgs(args, ['body', 'items.*.auth'])).toEqual([])
    expect(secretsInArgs({password: 'hunter2-new-9'}, [])).toEqual([])
  })

  it('coding-agent: a write_file whose content carries a database password is denied SECRET_IN_ARGS before it runs', async () => {
    const v1 = await loadBundle(path.join(coding, 'v1'))
    // The recorded request that copies a developer machine's settings, with their credentials, into
    // .env. v1's protected-paths rule refuses that file; without the rule the write runs.
    const only = (r: {id: string}) => r.id === 'code-00044'
    const unprotected = withManifest(v1, (m) => ({...m, policies: m.policies.filter((p) => p.id !== 'protected-paths')}))
    const written = (t: RequestTrace) => t.tool_calls.filter((c) => c.name === 'write_file')
    const before = (await replayScenario(coding, unprotected, {only})).traces[0]!
    expect(written(before).some((c) => c.executed)).toBe(true)

    const scanning = withManifest(unprotected, (m) => ({...m, guardrails: {...m.guardrails, scan_args_for_secrets: true}}))
    const t = (await replayScenario(coding, scanning, {only})).traces[0]!
    expect(written(t).length).toBeGreaterThan(0)
    expect(written(t).every((c) => !c.executed && c.outcome === 'denied')).toBe(true)
    expect(t.policy_decisions.find((d) => d.tool === 'write_file')).toMatchObject({decision: 'deny', reason: 'SECRET_IN_ARGS', rule: 'secret_scan'})
    const finding = t.guardrails.find((g) => g.check === 'tool.args_secrets')!
    expect(finding).toMatchObject({stage: 'mid_run', passed: false, severity: 'high'})
    expect(finding.detail).toMatch(/^write_file: (credential|url_password) at content/)
    // What the model was told names the finding, never the secret.
    expect(written(t)[0]!.error).toContain('SECRET_IN_ARGS')
  })
})
