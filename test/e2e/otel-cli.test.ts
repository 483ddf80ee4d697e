import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TrafficRecord} from '../../src/traffic/schema.js'
import {smallStore} from '../eval/small-store.js'
import {runCli} from '../helpers/cli.js'

let fx: ReturnType<typeof smallStore>
beforeAll(() => {
  fx = smallStore()
})
afterAll(() => rmSync(fx.dir, {recursive: true, force: true}))

describe('understudy trace export / traffic import (e2e)', () => {
  it('exports a side reproducibly and imports it back as valid traffic', async () => {
    const out = path.join(fx.dir, 'recorded.json')
    const r = await runCli(['trace', 'export', fx.runId, '--otlp', out, '--side', 'recorded', '--db', fx.db, '--json'], {cwd: fx.dir})
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({side: 'recorded', requests: 4, timestamps_from: 'traffic'})
    const first = readFileSync(out, 'utf8')
    expect((await runCli(['trace', 'export', fx.runId, '--otlp', out, '--side', 'recorded', '--db', fx.db], {cwd: fx.dir})).code).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe(first)
    const doc = JSON.parse(first)
    expect(doc.resourceSpans[0].scopeSpans[0].spans[0].name).toBe('invoke_agent production')

    const traffic = path.join(fx.dir, 'imported.jsonl')
    const imp = await runCli(['traffic', 'import', '--from', 'otel', out, '--out', traffic], {cwd: fx.dir})
    expect(imp.code).toBe(0)
    expect(imp.stdout).toContain('imported 4 request(s), skipped 0, from 4 trace(s)')
    const back = readFileSync(traffic, 'utf8').trimEnd().split('\n').map((l) => TrafficRecord.parse(JSON.parse(l)))
    expect(back.map((b) => b.id)).toEqual(fx.records.map((x) => x.id))
    for (const [i, b] of back.entries()) {
      const orig = fx.records[i]!
      expect([b.tenant, b.user, b.role, b.production.outcome, b.production.usage, b.timestamp.slice(0, 19)]).toEqual([
        orig.tenant, orig.user, orig.role, orig.production.outcome, orig.production.usage, orig.timestamp.slice(0, 19),
      ])
      expect(b.production.tool_calls.map((c) => [c.name, c.args, c.result, c.error?.code])).toEqual(orig.production.tool_calls.map((c) => [c.name, c.args, c.result, c.error?.code]))
    }
    expect((await runCli(['traffic', 'validate', traffic], {cwd: fx.dir})).code).toBe(0)
  })

  it('exports the candidate side by default, one request with --request, and no clear recipient', async () => {
    const out = path.join(fx.dir, 'candidate.json')
    const r = await runCli(['trace', 'export', fx.runId, '--otlp', out, '--request', 'req-inj', '--db', fx.db], {cwd: fx.dir})
    expect(r.code).toBe(0)
    const spans = JSON.parse(readFileSync(out, 'utf8')).resourceSpans[0].scopeSpans[0].spans
    expect(spans.map((s: {name: string}) => s.name)).toEqual(['invoke_agent support-refunds', 'chat support-agent', 'execute_tool send_email'])
    expect(readFileSync(out, 'utf8')).not.toContain('records@refund-verify.net')
    const none = await runCli(['trace', 'export', fx.runId, '--otlp', out, '--request', 'nope', '--db', fx.db], {cwd: fx.dir})
    expect(none.code).toBe(1)
    expect(none.stderr.trim()).toBe(`understudy: run ${fx.runId} has no request nope on the candidate side to export`)
  })

  it('import writes the valid traces, reports the others by trace id and exits 1; nothing half-written', async () => {
    const src = path.join(fx.dir, 'recorded.json')
    const doc = JSON.parse(readFileSync(src, 'utf8'))
    const spans = doc.resourceSpans[0].scopeSpans[0].spans
    const badTrace = spans[0].traceId
    for (const s of spans) {
      if (s.traceId === badTrace && !s.parentSpanId) s.attributes = s.attributes.filter((a: {key: string}) => a.key !== 'understudy.role')
    }
    const mixed = path.join(fx.dir, 'mixed.json')
    writeFileSync(mixed, JSON.stringify(doc))
    const out = path.join(fx.dir, 'mixed.jsonl')
    const r = await runCli(['traffic', 'import', '--from', 'otel', mixed, '--out', out], {cwd: fx.dir})
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(`understudy: ${mixed}: trace ${badTrace}: understudy.role: missing on the root span (the caller's role, for RBAC; map it with --role-attr or set --default-role)`)
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).toHaveLength(3)

    const broken = path.join(fx.dir, 'broken.json')
    writeFileSync(broken, '{"resourceSpans": [')
    const keep = path.join(fx.dir, 'keep.jsonl')
    writeFileSync(keep, 'old content\n')
    const b = await runCli(['traffic', 'import', '--from', 'otel', broken, '--out', keep], {cwd: fx.dir})
    expect(b.code).toBe(1)
    expect(b.stderr).toMatch(/^understudy: .*broken\.json: json: invalid JSON/)
    expect(readFileSync(keep, 'utf8')).toBe('old content\n')
    expect(existsSync(path.join(fx.dir, 'nothing.jsonl'))).toBe(false)
  })
})
