import {readFileSync} from 'node:fs'
import path from 'node:path'
import {Ajv} from 'ajv'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {configJsonSchema, configJsonSchemaText, referenceMarkdown} from '../../src/init/json-schema.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * The committed JSON Schemas and field reference are generated from the zod schemas; this keeps them
 * in step. When it fails after a schema change, regenerate (after `npm run build`):
 *   ./bin/run.js schema bundle > schemas/bundle.schema.json
 *   ./bin/run.js schema scenario > schemas/scenario.schema.json
 *   ./bin/run.js schema fixtures > schemas/fixtures.schema.json
 *   ./bin/run.js schema bundle --format markdown > docs/bundle-reference.md
 */
const committed = (rel: string) => readFileSync(path.join(repoRoot, rel), 'utf8')

describe('generated schemas', () => {
  it('match the committed schemas/ and docs/bundle-reference.md', () => {
    expect(committed('schemas/bundle.schema.json')).toBe(configJsonSchemaText('bundle'))
    expect(committed('schemas/scenario.schema.json')).toBe(configJsonSchemaText('scenario'))
    expect(committed('schemas/fixtures.schema.json')).toBe(configJsonSchemaText('fixtures'))
    expect(committed('docs/bundle-reference.md')).toBe(referenceMarkdown())
  })

  // Draft 7, as editors read it.
  const ajv = new Ajv({strict: false, allErrors: true})
  const bundle = ajv.compile(configJsonSchema('bundle'))

  it('accept a shipped bundle, as written, and the argument schema under parameters instead of args', () => {
    const manifest = parse(committed('test/fixtures/import/bundle/bundle.yaml'))
    expect(bundle(manifest), JSON.stringify(bundle.errors)).toBe(true)
    const {args, ...rest} = manifest.tools[0]
    manifest.tools[0] = {...rest, parameters: args}
    expect(bundle(manifest)).toBe(true)
  })

  it('reject what the loader rejects: an unknown field, two argument schemas, a bad enum', () => {
    const manifest = parse(committed('test/fixtures/import/bundle/bundle.yaml'))
    expect(bundle({...manifest, colour: 'blue'})).toBe(false)
    expect(bundle({...manifest, tools: [{...manifest.tools[0], parameters: {type: 'object'}}]})).toBe(false)
    expect(bundle({...manifest, tools: [{...manifest.tools[0], risk: 'dangerous'}]})).toBe(false)
  })

  it('list every bundle field in the reference, nested ones included', () => {
    const md = referenceMarkdown()
    for (const field of ['`tools[].args`', '`tools[].budget.per`', '`policies[].if`', '`budgets.max_total_tokens`', '`model.keep_alive`', '`retrieval.chunking.strategy`', '`tenant_quotas.<key>.max_tokens_per_minute`']) expect(md).toContain(field)
  })
})
