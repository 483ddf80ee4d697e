import {describe, expect, it} from 'vitest'
import {postModelGuardrails} from '../../src/runtime/guardrails/post-model.js'
import {manifest} from '../factories/index.js'

describe('postModelGuardrails', () => {
  it('passes an ordinary answer, quoting order ids, amounts and the customer email', () => {
    const r = postModelGuardrails('Your refund RF-7781 of $20.00 for ORD-100234 is on its way; a receipt went to jo@example.com.', {manifest: manifest({guardrails: {forbidden_output_patterns: ['INTERNAL-\\d+']}}), step: 4})
    expect(r.blocked).toBeNull()
    expect(r.guardrails).toEqual([
      {stage: 'post_model', step: 4, check: 'output.forbidden', passed: true, severity: 'info', detail: 'none of 1 forbidden pattern(s)'},
      {stage: 'post_model', step: 4, check: 'output.secrets', passed: true, severity: 'info', detail: 'no secret in answer'},
    ])
  })

  it.each([
    ['an API key', 'sk-abcdefghijklmnop1234', 'api_key'],
    ['an AWS key', 'AKIAIOSFODNN7EXAMPLE', 'aws_key'],
    ['a card number', '4111 1111 1111 1111', 'card'],
    ['a private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----', 'private_key'],
  ])('blocks an answer that leaks %s, without repeating it', (_, secret, kind) => {
    const answer = `Sure, here it is: ${secret} - keep it safe.`
    const r = postModelGuardrails(answer, {manifest: manifest(), step: 2})
    expect(r.blocked).toEqual({reason: 'OUTPUT_LEAKS_SECRET'})
    const secrets = r.guardrails.find((g) => g.check === 'output.secrets')!
    expect(secrets).toMatchObject({passed: false, severity: 'high', detail: `answer contains: ${kind}`})
    expect(JSON.stringify(r.guardrails)).not.toContain(JSON.stringify(secret).slice(1, -1))
  })

  it('blocks forbidden patterns case-insensitively', () => {
    const r = postModelGuardrails('Escalated under internal-4471.', {manifest: manifest({guardrails: {forbidden_output_patterns: ['INTERNAL-\\d+', 'do not share']}}), step: 1})
    expect(r.blocked).toEqual({reason: 'OUTPUT_FORBIDDEN'})
    expect(r.guardrails[0]).toMatchObject({check: 'output.forbidden', passed: false, severity: 'high', detail: 'answer matches forbidden pattern(s): INTERNAL-\\d+'})
  })

  it('names the secret leak when an answer has both', () => {
    const r = postModelGuardrails('internal-1 sk-abcdefghijklmnop1234', {manifest: manifest({guardrails: {forbidden_output_patterns: ['internal-\\d']}}), step: 1})
    expect(r.blocked).toEqual({reason: 'OUTPUT_LEAKS_SECRET'})
    expect(r.guardrails.map((g) => g.passed)).toEqual([false, false])
  })
})
