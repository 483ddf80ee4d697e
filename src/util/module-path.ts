import {existsSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {UnderstudyError} from '../errors.js'
import {notRegular} from './regular-file.js'

/**
 * Where to import a module the user names (a scenario's skill, say) from. Files under this project
 * are written in TypeScript and compiled by tsc into dist/ with the same layout, so when Understudy
 * itself runs compiled (from dist/), a `.ts`/`.mts` path inside the project resolves to its
 * compiled twin `dist/<same path>.js`/`.mjs`. When it runs from source (vitest, a TypeScript
 * loader), the `.ts` file is imported as is. Any other path (`.js`, `.mjs`, outside the project) is
 * imported as is.
 */

/** Where the project's sources are, and its dist/ when this code runs compiled (else null). */
export type ProjectLayout = {root: string; dist: string | null}

const HERE = fileURLToPath(import.meta.url)
/** This file is src/util/module-path.ts from source, dist/src/util/module-path.js compiled. */
const DIST = HERE.endsWith('.js') ? path.resolve(path.dirname(HERE), '..', '..') : null
export const PROJECT: ProjectLayout = {root: DIST === null ? path.resolve(path.dirname(HERE), '..', '..') : path.dirname(DIST), dist: DIST}

const TS_EXT = /\.(m?)ts$/

function inside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

/**
 * The absolute file to import for `file` (absolute, or relative to the working directory).
 * Throws a one-line UnderstudyError naming `file` when it does not exist, or when it is TypeScript
 * that compiled Understudy cannot import (outside the project, or not built yet).
 */
export function resolveModulePath(file: string, layout: ProjectLayout = PROJECT): string {
  const abs = path.resolve(file)
  if (!existsSync(abs)) throw new UnderstudyError(`${file}: no such module`)
  // import() of a named pipe would wait for a writer forever.
  const notFile = notRegular(statSync(abs))
  if (notFile !== null) throw new UnderstudyError(`${file}: ${notFile}, not a module`)
  const {root, dist} = layout
  if (dist === null || !TS_EXT.test(abs) || inside(dist, abs)) return abs
  if (!inside(root, abs)) {
    throw new UnderstudyError(`${file}: a TypeScript module outside ${root} cannot be imported by the built CLI; compile it to .js and name that`)
  }
  const twin = path.join(dist, path.relative(root, abs)).replace(TS_EXT, '.$1js')
  if (!existsSync(twin)) throw new UnderstudyError(`${file}: its compiled twin ${twin} does not exist; run npm run build`)
  return twin
}
