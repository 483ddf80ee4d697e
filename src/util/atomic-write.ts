import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {mkdir, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import {UnderstudyError} from '../errors.js'

/**
 * Writes a file so that readers see either the old content or the whole new content, never half:
 * the chunks go to a temporary file beside the target, which is renamed over it only once every
 * chunk is written and flushed. If producing a chunk throws (bad input, a full disk, Ctrl-C), the
 * temporary file is removed and the target is left as it was. Every failure of the file system is
 * a one-line UnderstudyError naming the target.
 */
export function writeFileAtomic(file: string, content: string | Iterable<string>): void {
  const {abs, dir, tmp} = paths(file)
  try {
    mkdirSync(dir, {recursive: true})
  } catch (e) {
    throw dirError(file, e)
  }
  let fd: number
  try {
    fd = openSync(tmp, 'wx')
  } catch (e) {
    throw writeError(file, e)
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
    throw failure(file, e)
  }
}

/** writeFileAtomic for chunks produced asynchronously (a stream of batches). */
export async function writeFileAtomicAsync(file: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  const {abs, dir, tmp} = paths(file)
  await mkdir(dir, {recursive: true}).catch((e: unknown) => {
    throw dirError(file, e)
  })
  const handle = await open(tmp, 'wx').catch((e: unknown) => {
    throw writeError(file, e)
  })
  try {
    try {
      for await (const chunk of chunks) await handle.write(chunk)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, abs)
  } catch (e) {
    await rm(tmp, {force: true})
    throw failure(file, e)
  }
}

/** The temporary file is unique to this process and call, so concurrent writers never share one. */
function paths(file: string): {abs: string; dir: string; tmp: string} {
  const abs = path.resolve(file)
  const dir = path.dirname(abs)
  return {abs, dir, tmp: path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)}
}

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message

function dirError(file: string, e: unknown): UnderstudyError {
  return new UnderstudyError(`${file}: cannot create its directory (${codeOf(e)})`, {cause: e})
}

function writeError(file: string, e: unknown): UnderstudyError {
  return new UnderstudyError(`${file}: cannot write (${codeOf(e)})`, {cause: e})
}

/** What a failed write throws: our errors as they are, a system error as one line, anything else (a bug in a chunk's producer) untouched. */
function failure(file: string, e: unknown): unknown {
  if (e instanceof UnderstudyError) return e
  return (e as NodeJS.ErrnoException).code ? writeError(file, e) : e
}
