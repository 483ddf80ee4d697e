import {randomBytes} from 'node:crypto'
import {mkdir, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'
import {UnderstudyError} from '../errors.js'

/**
 * Writes chunks produced asynchronously to a temporary file beside `file` and renames it over
 * `file` only once all of them are written and flushed: a failure halfway (bad input, a full
 * disk, Ctrl-C) leaves `file` as it was, never half written.
 */
export async function writeFileAtomicAsync(file: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  const abs = path.resolve(file)
  const dir = path.dirname(abs)
  await mkdir(dir, {recursive: true}).catch((e: NodeJS.ErrnoException) => {
    throw new UnderstudyError(`${file}: cannot create its directory (${e.code ?? e.message})`, {cause: e})
  })
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, 'wx').catch((e: NodeJS.ErrnoException) => {
    throw new UnderstudyError(`${file}: cannot write (${e.code ?? e.message})`, {cause: e})
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
    if (e instanceof UnderstudyError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code) throw new UnderstudyError(`${file}: cannot write (${code})`, {cause: e})
    throw e
  }
}
