import {existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'
import {stringify} from 'yaml'
import {loadBundle} from '../bundle/load.js'
import type {Bundle, BundleManifest} from '../bundle/schema.js'
import {escapesBundleDir} from '../bundle/templates.js'
import {UnderstudyError, ValidationError} from '../errors.js'
import {writeFileAtomic} from '../util/atomic-write.js'

/**
 * Writes a bundle (manifest as `bundle.yaml`, plus its templates) into `outDir` and loads it back
 * with the real loader, so a variant that does not validate is never left on disk. The files are
 * written whole (writeFileAtomic: no short write passes) into a sibling temporary directory and
 * renamed into place: `outDir` must not exist or be empty, so nothing already there is overwritten.
 */
export async function writeBundle(
  manifest: BundleManifest,
  templates: Readonly<Record<string, string>>,
  outDir: string,
  header: string,
): Promise<Bundle> {
  const out = path.resolve(outDir)
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new UnderstudyError(`${outDir}: exists and is not a directory; choose another --out`)
    if (readdirSync(out).length > 0) throw new UnderstudyError(`${outDir}: not empty; choose another --out (nothing was written)`)
  }
  const tmp = `${out}.tmp-${process.pid}-${Date.now().toString(36)}`
  try {
    mkdirSync(tmp, {recursive: true})
    const comment = header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')
    writeFileAtomic(path.join(tmp, 'bundle.yaml'), `${comment}\n${stringify(manifest, {lineWidth: 0})}`)
    for (const [rel, text] of Object.entries(templates)) {
      if (escapesBundleDir(tmp, rel)) throw new UnderstudyError(`template "${rel}" is outside the bundle directory; not written`)
      const file = path.resolve(tmp, rel)
      writeFileAtomic(file, text)
    }
    try {
      await loadBundle(tmp)
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e
      const where = (p: string) => p.split(tmp).join(out)
      throw new ValidationError(e.problems.map(where), `${outDir}: the bundle would not validate, so it was not written: ${where(e.message)}`)
    }
    if (existsSync(out)) rmSync(out, {recursive: true})
    renameSync(tmp, out)
  } catch (e) {
    rmSync(tmp, {recursive: true, force: true})
    throw e
  }
  return loadBundle(out)
}
