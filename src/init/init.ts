import {existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {validateBundle} from '../bundle/validate.js'
import {UnderstudyError, ValidationError} from '../errors.js'
import {checkTurns, type ImportFormat, importTrafficText, readForeignFile} from '../import/import-file.js'
import {loadScenario} from '../scenario/load.js'
import type {ImportMapping} from '../traffic/imported.js'
import {writeFileAtomic} from '../util/atomic-write.js'
import {configJsonSchemaText} from './json-schema.js'
import {bundleYaml, type Draft, draftBundle, readme, scenarioYaml, slug} from './draft.js'

export type InitResult = {
  dir: string
  from: ImportFormat
  file: string
  /** Requests written to traffic.jsonl. */
  requests: number
  /** Lines or traces of the log that could not be imported (each in `errors`). */
  skipped: number
  errors: string[]
  files: string[]
  tools: {name: string; risk: string; calls: number; defined: boolean}[]
  notes: string[]
  next: string[]
}

/** The files `init` writes, relative to the scenario folder. */
const FILES = {
  traffic: 'traffic.jsonl',
  bundle: 'v1/bundle.yaml',
  prompt: 'v1/prompts/system.md',
  scenario: 'scenario.yaml',
  readme: 'README.md',
  bundleSchema: 'schemas/bundle.schema.json',
  scenarioSchema: 'schemas/scenario.schema.json',
} as const

/**
 * `understudy init`: imports a log and writes a scenario folder that replays it through a drafted
 * bundle, all or nothing (writeFolder): a failure at any point leaves nothing behind, and `dir`
 * must not exist or be empty, so nothing of the user's is replaced.
 * The JSON Schemas go into the folder itself, so the `$schema` lines resolve wherever it is
 * committed and match the version of Understudy that wrote it.
 */
export async function initScenario(opts: {dir: string; from: ImportFormat; file: string; mapping?: ImportMapping; strict?: boolean}): Promise<InitResult> {
  const out = path.resolve(opts.dir)
  refuseNonEmpty(opts.dir, out)
  checkTurns(opts.from, opts.mapping ?? {})

  const text = await readForeignFile(opts.from, opts.file)
  const imported = importTrafficText(opts.from, text, opts.file, opts.mapping ?? {})
  if (opts.strict && imported.errors.length > 0) {
    throw new ValidationError(imported.errors, imported.errors.length > 1 ? `${opts.file}: ${imported.errors.length} problem(s); --strict: nothing written (first: ${imported.errors[0]})` : undefined)
  }
  if (imported.records.length === 0) {
    const why = imported.errors.length > 0 ? ` (first problem: ${imported.errors[0]})` : ''
    throw new UnderstudyError(`${opts.file}: no request could be imported from ${imported.units} unit(s)${why}; nothing was written`)
  }
  const name = slug(path.basename(out), 'imported')
  const draft = draftBundle({name, records: imported.records, tools: imported.tools, ...(imported.systemPrompts !== undefined ? {systemPrompts: imported.systemPrompts} : {})})

  const texts: Record<string, string> = {
    [FILES.traffic]: imported.records.map((r) => `${JSON.stringify(r)}\n`).join(''),
    [FILES.bundle]: bundleYaml(draft, '../schemas/bundle.schema.json'),
    [FILES.prompt]: draft.systemPrompt.text,
    [FILES.scenario]: scenarioYaml(name, 'schemas/scenario.schema.json'),
    [FILES.readme]: readme(draft, {from: opts.from, file: path.basename(opts.file), records: imported.records.length, skipped: imported.errors.length}, opts.dir),
    [FILES.bundleSchema]: configJsonSchemaText('bundle'),
    [FILES.scenarioSchema]: configJsonSchemaText('scenario'),
  }

  await writeFolder(out, texts, () => refuseNonEmpty(opts.dir, out))
  return {
    dir: opts.dir,
    from: opts.from,
    file: opts.file,
    requests: imported.records.length,
    skipped: imported.errors.length,
    errors: imported.errors,
    files: Object.keys(texts),
    tools: toolSummary(draft, new Set(imported.tools.map((t) => t.name))),
    notes: draft.notes,
    next: [`understudy shadow --scenario ${opts.dir}`, 'understudy report <run-id>'],
  }
}

/**
 * Writes `texts` (relative path → content) into `out` all or nothing. They go first into a hidden
 * directory inside `out` (created if absent; the same file system, so every move is a rename), are
 * checked there with the real loaders, and then each top-level entry is renamed into `out`. `out`
 * itself is never replaced: it may be the shell's current directory. On any failure the hidden
 * directory and whatever was already moved are removed, and an `out` this call created goes too.
 */
async function writeFolder(out: string, texts: Record<string, string>, stillEmpty: () => void): Promise<void> {
  const created = !existsSync(out)
  mkdirSync(out, {recursive: true})
  const tmp = path.join(out, `.understudy-init-${process.pid}-${Date.now().toString(36)}`)
  const moved: string[] = []
  try {
    for (const [rel, content] of Object.entries(texts)) {
      mkdirSync(path.dirname(path.join(tmp, rel)), {recursive: true})
      writeFileAtomic(path.join(tmp, rel), content)
    }
    await checkWritten(tmp)
    // Someone may have written into `out` meanwhile: nothing of theirs is replaced.
    if (readdirSync(out).some((e) => path.join(out, e) !== tmp)) stillEmpty()
    for (const entry of readdirSync(tmp)) {
      renameSync(path.join(tmp, entry), path.join(out, entry))
      moved.push(entry)
    }
    rmSync(tmp, {recursive: true, force: true})
  } catch (e) {
    rmSync(tmp, {recursive: true, force: true})
    for (const entry of moved) rmSync(path.join(out, entry), {recursive: true, force: true})
    if (created) rmSync(out, {recursive: true, force: true})
    throw e
  }
}

function toolSummary(draft: Draft, defined: Set<string>): InitResult['tools'] {
  return draft.tools.map((t) => ({name: t.name, risk: t.risk, calls: t.calls, defined: defined.has(t.name)}))
}

function refuseNonEmpty(given: string, out: string): void {
  if (!existsSync(out)) return
  if (!statSync(out).isDirectory()) throw new UnderstudyError(`${given}: exists and is not a directory; choose another directory (nothing was written)`)
  if (readdirSync(out).length > 0) throw new UnderstudyError(`${given}: not empty; init writes only into a new or empty directory (nothing was written)`)
}

/** The drafted files through the loaders every later command uses; a problem here is a bug in the drafter. */
async function checkWritten(dir: string): Promise<void> {
  const bundle = await validateBundle(path.join(dir, 'v1'))
  if (bundle.problems.length > 0) {
    throw new ValidationError(bundle.problems.map((p) => p.replace(dir, '<init>')), `the drafted bundle does not validate (a bug in init; nothing was written): ${bundle.problems[0]}`)
  }
  loadScenario(dir)
}
