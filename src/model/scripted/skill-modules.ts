import {pathToFileURL} from 'node:url'
import {UnderstudyError} from '../../errors.js'
import {resolveModulePath} from '../../util/module-path.js'
import {isScriptedSkill, type ScriptedSkill} from './skills.js'

/**
 * Loading the skill modules a run names. A skill module's default export is one ScriptedSkill or a
 * list of them; they are registered in the order the modules are named, each module's in its own
 * order. Every failure is a SkillModuleError whose one-line message names the file.
 */
export class SkillModuleError extends UnderstudyError {}

async function loadSkillModule(file: string): Promise<ScriptedSkill[]> {
  let target: string
  try {
    target = resolveModulePath(file)
  } catch (e) {
    throw new SkillModuleError(`skill module ${(e as Error).message}`, {cause: e})
  }
  let mod: {default?: unknown}
  try {
    mod = (await import(pathToFileURL(target).href)) as {default?: unknown}
  } catch (e) {
    const why = (e as Error).message?.split('\n')[0] ?? String(e)
    throw new SkillModuleError(`skill module ${file}: cannot be loaded (${why})`, {cause: e})
  }
  const exported = mod.default
  const list = Array.isArray(exported) ? exported : [exported]
  if (list.length === 0 || !list.every(isScriptedSkill)) {
    throw new SkillModuleError(`skill module ${file}: its default export is not a scripted skill ({name, handles, respond}) or a list of them`)
  }
  return list
}

/** The skills of every module in `files`, in order. Node caches each module, so loading twice is cheap. */
export async function loadSkills(files: readonly string[]): Promise<ScriptedSkill[]> {
  const skills: ScriptedSkill[] = []
  for (const file of files) skills.push(...(await loadSkillModule(file)))
  return skills
}
