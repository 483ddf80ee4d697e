import {closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import path from 'node:path'
import {randomBytes} from 'node:crypto'
import {UnderstudyError} from '../errors.js'

/**
 * Writes a file so that readers see either the old content or the whole new content, never half:
 * the chunks go to a temporary file beside the target, which is renamed over it only once every
 * chunk is written and flushed. If producing a chunk throws, the temporary file is removed and the
 * target is left as it was.
 */
export function writeFileAtomic(file: string, content: string | Iterable<string>): void {
  const abs = path.resolve(file)
  const dir = path.dirname(abs)
  try {
    mkdirSync(dir, {recursive: true})
  } catch (e) {
    throw new UnderstudyError(`${file}: cannot create its directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {cause: e})
  }
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let fd: number
  try {
    fd = openSync(tmp, 'wx')
  } catch (e) {
    throw new UnderstudyError(`${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {cause: e})
  }
  try {
    try {
      for (const chunk of typeof content === 'string' ? [content] : content) writeSync(fd, chunk)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, abs)
  } catch (e) {
    rmSync(tmp, {force: true})
    if (e instanceof UnderstudyError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code) throw new UnderstudyError(`${file}: cannot write (${code})`, {cause: e})
    throw e
  }
}
