import {chmodSync, existsSync, mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {loadBundle} from '../../src/bundle/load.js'
import {validateBundle} from '../../src/bundle/validate.js'
import {UnderstudyError, ValidationError} from '../../src/errors.js'
import {bundleDir, fixtureBundle, removeTempDirs, tempDir} from '../factories/index.js'
import {fieldPathsOnly} from '../helpers/problem-positions.js'

afterEach(removeTempDirs)

async function problemsOf(dir: string): Promise<string[]> {
  const r = await validateBundle(dir)
  expect(r.bundle).toBeNull()
  const file = path.join(dir, 'bundle.yaml')
  return existsSync(file) ? fieldPathsOnly(file, r.problems) : r.problems
}

describe('loadBundle', () => {
  it('loads a valid YAML bundle with defaults applied and templates read', async () => {
    const b = await loadBundle(fixtureBundle('refunds-v1'))
    expect(b.dir).toBe(fixtureBundle('refunds-v1'))
    expect(b.manifestFile).toBe('bundle.yaml')
    expect(b.manifest.model.temperature).toBe(0)
    expect(b.manifest.tools.map((t) => t.name)).toEqual(['lookup_order', 'issue_refund'])
    expect(b.manifest.tools[0]!.idempotency).toBe('none')
    expect(b.templates['prompts/system.md']).toContain('{{tenant}}')
    expect(b.templates['prompts/plan.md']).toContain('numbered plan')
    expect(b.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(b.ref).toBe(`refunds@1.0.0#${b.hash.slice(0, 12)}`)
  })

  it('loads a JSON bundle', async () => {
    const b = await loadBundle(fixtureBundle('refunds-v1-json'))
    expect(b.manifestFile).toBe('bundle.json')
    expect(b.manifest.policies).toHaveLength(2)
  })

  it('throws a ValidationError listing every problem, each naming file and field', async () => {
    const dir = bundleDir((m) => {
      m.budgets.max_steps = -1
      m.tools[1].args.properties.amount.maximum = 'lots'
      m.bogus = 1
    })
    const err = await loadBundle(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    const file = path.join(dir, 'bundle.yaml')
    expect(fieldPathsOnly(file, (err as ValidationError).problems).sort()).toEqual(
      [
        `${file}:bogus: unknown field "bogus"`,
        `${file}:budgets.max_steps: must be >= 0 (got -1)`,
        `${file}:tools.1.args.properties.amount.maximum: must be number`,
      ].sort(),
    )
    expect((err as ValidationError).message).toBe(`${dir}: 3 problems; bundle not loaded`)
  })

  it('uses the single problem as the message when there is only one', async () => {
    const dir = bundleDir((m) => {
      m.budgets.max_retries = 1.5
    })
    const err = (await loadBundle(dir).catch((e: unknown) => e)) as ValidationError
    expect(fieldPathsOnly(path.join(dir, 'bundle.yaml'), err.problems)).toEqual([`${path.join(dir, 'bundle.yaml')}:budgets.max_retries: expected an integer, received number 1.5`])
    expect(err.message).toBe(err.problems[0])
  })
})

describe('validateBundle: manifest discovery and syntax', () => {
  it('reports a directory without a manifest', async () => {
    const dir = tempDir()
    expect(await problemsOf(dir)).toEqual([`${dir}: no bundle manifest (expected bundle.yaml, bundle.yml, bundle.json)`])
  })

  it('refuses a directory with both bundle.yaml and bundle.json', async () => {
    const dir = bundleDir(() => {})
    writeFileSync(path.join(dir, 'bundle.json'), '{}')
    expect(await problemsOf(dir)).toEqual([
      `${path.join(dir, 'bundle.yaml')}: found both bundle.yaml and bundle.json in ${dir}; keep exactly one`,
    ])
  })

  it('accepts bundle.yml', async () => {
    const dir = tempDir()
    const src = bundleDir(() => {})
    const {readFileSync, cpSync} = await import('node:fs')
    cpSync(path.join(src, 'prompts'), path.join(dir, 'prompts'), {recursive: true})
    writeFileSync(path.join(dir, 'bundle.yml'), readFileSync(path.join(src, 'bundle.yaml')))
    const r = await validateBundle(dir)
    expect(r.problems).toEqual([])
    expect(r.bundle?.manifestFile).toBe('bundle.yml')
  })

  it('gives YAML syntax errors as file:LINE:COL', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'bundle.yaml'), 'name: x\nmodel:\n\tprovider: scripted\n')
    expect(await problemsOf(dir)).toEqual([`${path.join(dir, 'bundle.yaml')}:3:1: Tabs are not allowed as indentation`])
    writeFileSync(path.join(dir, 'bundle.yaml'), 'name: x\nversion: "1"\nmodel: [a, b\nbudgets: 1\n')
    expect((await problemsOf(dir))[0]).toMatch(new RegExp(`^${escapeText(path.join(dir, 'bundle.yaml'))}:4:1: Flow sequence`))
  })

  it('reports duplicate YAML keys with their line', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'bundle.yaml'), 'name: x\nversion: "1"\nname: y\n')
    expect(await problemsOf(dir)).toEqual([`${path.join(dir, 'bundle.yaml')}:3:1: Map keys must be unique`])
  })

  it('gives JSON syntax errors as file:LINE:COL', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'bundle.json'), '{\n  "name": "x",\n  "version": 1,\n}\n')
    const problems = await problemsOf(dir)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(new RegExp(`^${escapeText(path.join(dir, 'bundle.json'))}:4:1: `))
  })

  it('reports a JSON error that V8 gives without a position at the right place', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'bundle.json'), '{\n  "name": "x",\n  "version": }\n')
    const problems = await problemsOf(dir)
    expect(problems[0]).toMatch(new RegExp(`^${escapeText(path.join(dir, 'bundle.json'))}:3:14: Unexpected token`))
  })

  it('reports an empty manifest and a non-mapping manifest', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'bundle.yaml'), '# nothing yet\n')
    expect(await problemsOf(dir)).toEqual([`${path.join(dir, 'bundle.yaml')}: manifest is empty`])
    writeFileSync(path.join(dir, 'bundle.yaml'), '- a\n- b\n')
    expect(await problemsOf(dir)).toEqual([`${path.join(dir, 'bundle.yaml')}: the manifest must be a mapping of fields, not a list`])
  })

  it('reports missing required fields', async () => {
    const dir = bundleDir((m) => {
      delete m.budgets
      delete m.model.name
    })
    expect((await problemsOf(dir)).sort()).toEqual(
      [
        `${path.join(dir, 'bundle.yaml')}:budgets: missing required field (expected object)`,
        `${path.join(dir, 'bundle.yaml')}:model.name: missing required field (expected string)`,
      ].sort(),
    )
  })

  it('throws an UnderstudyError (not a problem list) for a missing or unreadable directory', async () => {
    const missing = path.join(tempDir(), 'nope')
    const err = await validateBundle(missing).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnderstudyError)
    expect(err).not.toBeInstanceOf(ValidationError)
    expect((err as Error).message).toBe(`${missing}: no such bundle directory`)

    const file = path.join(tempDir(), 'file.txt')
    writeFileSync(file, 'x')
    await expect(validateBundle(file)).rejects.toThrow(`${file}: not a directory`)

    if (process.getuid?.() !== 0) {
      const locked = path.join(tempDir(), 'locked')
      mkdirSync(locked)
      chmodSync(locked, 0o000)
      try {
        await expect(validateBundle(locked)).rejects.toThrow(`${locked}: cannot read directory: EACCES`)
      } finally {
        chmodSync(locked, 0o755)
      }
    }
  })
})

function escapeText(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
