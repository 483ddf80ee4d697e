import {readdir, realpath, stat} from 'node:fs/promises'
import path from 'node:path'
import {UnderstudyError} from '../errors.js'
import {crossCheck, manifestView} from './checks.js'
import {expressionProblems} from './expressions.js'
import {bundleRef, hashBundle} from './hash.js'
import {hiddenFromOllama, OLLAMA_KEPT_KEYWORDS} from './model-visible.js'
import {type Bundle, BundleManifest} from './schema.js'
import {escapesBundleDir, isOutside, type TemplateSlot, templateSections, unknownTemplateVariables} from './templates.js'
import {parseConfigText, readConfigText} from '../util/config-file.js'
import {NotRegularFileError, readRegularFile} from '../util/regular-file.js'
import {type Locator, pathLocator} from '../util/path-position.js'
import {problem, zodProblems} from '../util/zod-problems.js'

export const MANIFEST_NAMES = ['bundle.yaml', 'bundle.yml', 'bundle.json'] as const

/**
 * `warnings` never stop a bundle from loading: they say what works but may not do what the author
 * expects (constraints a model served by Ollama is never shown), located like problems.
 */
export type BundleValidation = {bundle: Bundle | null; problems: string[]; warnings: string[]}

/**
 * Loads and checks a bundle directory, collecting every problem instead of stopping at the first.
 * A bad bundle is a result, not an exception; only a directory that cannot be read at all throws.
 */
export async function validateBundle(dir: string): Promise<BundleValidation> {
  const names = await listDir(dir)
  const found = MANIFEST_NAMES.filter((n) => names.includes(n))
  if (found.length === 0) {
    return fail([`${dir}: no bundle manifest (expected ${MANIFEST_NAMES.join(', ')})`])
  }
  if (found.length > 1) {
    return fail([`${path.join(dir, found[0]!)}: found both ${found.join(' and ')} in ${dir}; keep exactly one`])
  }
  const manifestFile = found[0]!
  const file = path.join(dir, manifestFile)

  let text: string
  try {
    text = readConfigText(file, 'bundle manifest')
  } catch (e) {
    return fail([(e as Error).message])
  }
  const parsed = parseConfigText(file, text)
  if (!parsed.ok) return fail(parsed.problems)
  const raw = parsed.value
  if (raw === null || raw === undefined) return fail([`${file}: manifest is empty`])
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return fail([`${file}: the manifest must be a mapping of fields, not ${Array.isArray(raw) ? 'a list' : typeof raw}`])
  }

  const locate = pathLocator(text)
  const result = BundleManifest.safeParse(raw)
  const problems = result.success ? [] : zodProblems(file, result.error.issues, raw, locate)
  const manifest = result.success ? result.data : null
  const view = manifestView(raw, manifest)
  problems.push(...crossCheck(file, view, locate), ...expressionProblems(file, text, view))

  const templates: Record<string, string> = {}
  const sections = new Set<string>()
  let allTemplatesRead = true
  for (const [slot, templatePath] of promptPaths(raw)) {
    const loaded = await loadTemplate(dir, templatePath)
    if (!loaded.ok) {
      problems.push(problem(file, ['prompts', slot], loaded.message, locate))
      allTemplatesRead = false
      continue
    }
    templates[templatePath] = loaded.text
    const declared = templateSections(templatePath, loaded.text)
    for (const message of [...unknownTemplateVariables(templatePath, loaded.text), ...declared.problems]) {
      problems.push(problem(file, ['prompts', slot], message, locate))
    }
    for (const s of declared.sections) sections.add(s.name)
  }
  // A flag naming a section no template declares would silently do nothing for every tenant.
  if (allTemplatesRead) {
    const known = [...sections].sort()
    for (const [name, flag] of Object.entries(view.flags ?? {})) {
      flag.sections?.forEach((section, i) => {
        if (!sections.has(section)) {
          const declaredList = known.length === 0 ? 'the prompts declare none' : `declared: ${known.join(', ')}`
          problems.push(problem(file, ['flags', name, 'sections', i], `unknown prompt section "${section}" (${declaredList})`, locate))
        }
      })
    }
  }

  if (!manifest || problems.length > 0) return fail(problems)
  const hash = hashBundle(manifest, templates)
  return {
    bundle: {dir: path.resolve(dir), manifestFile, manifest, templates, hash, ref: bundleRef(manifest, hash)},
    problems: [],
    warnings: modelWarnings(file, raw, manifest, locate),
  }
}

function fail(problems: string[]): BundleValidation {
  return {bundle: null, problems, warnings: []}
}

/** One warning per argument constraint an Ollama-served model will not see (unless described). */
function modelWarnings(file: string, raw: object, manifest: BundleManifest, locate: Locator): string[] {
  if (manifest.model.provider !== 'ollama' || manifest.model.describe_constraints === true) return []
  const keyOf = new Map(manifestView(raw, manifest).argSchemas.map((s) => [s.index, s.key]))
  return manifest.tools.flatMap((tool, i) =>
    hiddenFromOllama(tool.args).map((h) =>
      problem(
        file,
        ['tools', i, keyOf.get(i) ?? 'args', ...h.path],
        `warning: Ollama does not show ${h.keyword} to the model (it keeps only ${OLLAMA_KEPT_KEYWORDS.join(', ')}); the contract still enforces it. Set model.describe_constraints: true to write it into the description`,
        locate,
      ),
    ),
  )
}

async function listDir(dir: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(dir)
  } catch (e) {
    throw new UnderstudyError(`${dir}: ${errCode(e) === 'ENOENT' ? 'no such bundle directory' : `cannot read: ${errCode(e)}`}`, {cause: e})
  }
  if (!info.isDirectory()) throw new UnderstudyError(`${dir}: not a directory (a bundle is a directory with bundle.yaml or bundle.json)`)
  try {
    return await readdir(dir)
  } catch (e) {
    throw new UnderstudyError(`${dir}: cannot read directory: ${errCode(e)}`, {cause: e})
  }
}

/** Template paths from the raw manifest, so templates are checked even when other fields are invalid. */
function promptPaths(raw: object): [TemplateSlot, string][] {
  const prompts = (raw as {prompts?: unknown}).prompts
  if (prompts === null || typeof prompts !== 'object') return []
  const out: [TemplateSlot, string][] = []
  for (const slot of ['system', 'plan'] as const) {
    const p = (prompts as Record<string, unknown>)[slot]
    if (typeof p === 'string' && p !== '') out.push([slot, p])
  }
  return out
}

type LoadedTemplate = {ok: true; text: string} | {ok: false; message: string}

async function loadTemplate(dir: string, templatePath: string): Promise<LoadedTemplate> {
  if (escapesBundleDir(dir, templatePath)) {
    return {ok: false, message: `template "${templatePath}" is outside the bundle directory`}
  }
  const full = path.resolve(dir, templatePath)
  try {
    // A symlink inside the bundle may still point out of it; the hash would then miss the real file's owner.
    const [realDir, realFile] = await Promise.all([realpath(dir), realpath(full)])
    if (isOutside(realDir, realFile)) {
      return {ok: false, message: `template "${templatePath}" links outside the bundle directory`}
    }
    return {ok: true, text: stripBom(await readRegularFile(full))}
  } catch (e) {
    if (e instanceof NotRegularFileError) {
      return {ok: false, message: e.reason === 'is a directory' ? `template "${templatePath}" is a directory, not a file` : `template "${templatePath}" ${e.reason}`}
    }
    const code = errCode(e)
    if (code === 'ENOENT') return {ok: false, message: `template file "${templatePath}" not found in ${dir}`}
    if (code === 'EISDIR') return {ok: false, message: `template "${templatePath}" is a directory, not a file`}
    return {ok: false, message: `cannot read template "${templatePath}": ${code}`}
  }
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}
