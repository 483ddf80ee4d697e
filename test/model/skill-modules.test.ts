import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import supportSkill from '../../scenarios/support-refunds/skill/index.js'
import {UnderstudyError} from '../../src/errors.js'
import {loadSkills, SkillModuleError} from '../../src/model/scripted/skill-modules.js'
import {PROJECT, resolveModulePath} from '../../src/util/module-path.js'
import {repoRoot} from '../helpers/cli.js'

let dir: string
const file = (rel: string, text = ''): string => {
  const p = path.join(dir, rel)
  mkdirSync(path.dirname(p), {recursive: true})
  writeFileSync(p, text)
  return p
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'understudy-skill-modules-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const SKILL_SRC = (name: string) => `export default {name: ${JSON.stringify(name)}, handles: () => true, respond: () => ({content: ${JSON.stringify(name)}, tool_calls: []})}\n`

describe('resolveModulePath', () => {
  it('imports TypeScript as is when running from source, and knows the project root', () => {
    expect(PROJECT).toEqual({root: repoRoot, dist: null})
    const ts = path.join(repoRoot, 'scenarios', 'support-refunds', 'skill', 'index.ts')
    expect(resolveModulePath(ts)).toBe(ts)
  })

  it('running compiled, maps a .ts/.mts inside the project to its dist twin and leaves .js alone', () => {
    const layout = {root: path.join(dir, 'proj'), dist: path.join(dir, 'proj', 'dist')}
    const ts = file('proj/scenarios/a/skill/index.ts')
    const twin = file('proj/dist/scenarios/a/skill/index.js')
    const mts = file('proj/lib/x.mts')
    const mtsTwin = file('proj/dist/lib/x.mjs')
    const js = file('elsewhere/skill.js')
    expect(resolveModulePath(ts, layout)).toBe(twin)
    expect(resolveModulePath(mts, layout)).toBe(mtsTwin)
    expect(resolveModulePath(js, layout)).toBe(js)
    expect(resolveModulePath(twin, layout)).toBe(twin)
  })

  it('names the file in a one-line error: missing, TypeScript outside the project, not built', () => {
    const layout = {root: path.join(dir, 'proj'), dist: path.join(dir, 'proj', 'dist')}
    const outside = file('elsewhere/skill.ts')
    const unbuilt = file('proj/scenarios/b/skill.ts')
    const missing = path.join(dir, 'nope.js')
    expect(() => resolveModulePath(missing, layout)).toThrow(new UnderstudyError(`${missing}: no such module`))
    expect(() => resolveModulePath(outside, layout)).toThrow(`${outside}: a TypeScript module outside ${layout.root} cannot be imported by the built CLI; compile it to .js and name that`)
    expect(() => resolveModulePath(unbuilt, layout)).toThrow(`${unbuilt}: its compiled twin ${path.join(dir, 'proj', 'dist', 'scenarios', 'b', 'skill.js')} does not exist; run npm run build`)
  })
})

describe('loadSkills', () => {
  it('registers the default export of each module in order, a list in its own order', async () => {
    const one = file('mods/one.mjs', SKILL_SRC('one'))
    const two = file('mods/two.mjs', `import a from './one.mjs'\nexport default [{...a, name: 'two'}, {...a, name: 'three'}]\n`)
    const skills = await loadSkills([two, one])
    expect(skills.map((s) => s.name)).toEqual(['two', 'three', 'one'])
    expect(await loadSkills([])).toEqual([])
  })

  it('loads a scenario skill written in TypeScript: the same module the tests import', async () => {
    const skills = await loadSkills([path.join(repoRoot, 'scenarios', 'support-refunds', 'skill', 'index.ts')])
    expect(skills).toHaveLength(1)
    expect(skills[0]).toBe(supportSkill)
  })

  it('fails with a one-line SkillModuleError naming the file', async () => {
    const missing = path.join(dir, 'mods', 'missing.mjs')
    const none = file('mods/none.mjs', 'export const skill = 1\n')
    const half = file('mods/half.mjs', 'export default [{name: "x", handles: () => true}]\n')
    const empty = file('mods/empty.mjs', 'export default []\n')
    const broken = file('mods/broken.mjs', 'export default {\n')
    const cases: [string, string][] = [
      [missing, `skill module ${missing}: no such module`],
      [none, `skill module ${none}: its default export is not a scripted skill ({name, handles, respond}) or a list of them`],
      [half, `skill module ${half}: its default export is not a scripted skill`],
      [empty, `skill module ${empty}: its default export is not a scripted skill`],
      [broken, `skill module ${broken}: cannot be loaded (`],
    ]
    for (const [f, message] of cases) {
      const err = await loadSkills([f]).catch((e: unknown) => e)
      expect(err, f).toBeInstanceOf(SkillModuleError)
      expect((err as Error).message, f).toContain(message)
      expect((err as Error).message.split('\n'), f).toHaveLength(1)
    }
  })
})
