import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {FileWriteError, UnderstudyError} from '../errors.js'

/**
 * The file-system calls every artefact writer makes, in one place: the seam through which a test
 * makes a write come up short or fail as a full disk does (see setFileIo). Production uses node:fs.
 */
export type FileIo = {
  mkdirSync(dir: string, opts: {recursive: true}): unknown
  openSync(file: string, flags: string): number
  /** As fs.writeSync: may write fewer bytes than asked (a full disk, a signal); returns how many. */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position?: number | null): number
  fsyncSync(fd: number): void
  closeSync(fd: number): void
  renameSync(from: string, to: string): void
  rmSync(file: string, opts: {force: true}): void
  ftruncateSync(fd: number, len: number): void
  fstatSync(fd: number): {size: number}
}

const nodeIo: FileIo = fs

let io: FileIo = nodeIo

/** The file-system calls the writers use now. */
export function fileIo(): FileIo {
  return io
}

/**
 * Replaces the file-system calls of every writer (tests only: a short write, ENOSPC); returns the
 * function that puts the previous ones back.
 */
export function setFileIo(next: Partial<FileIo>): () => void {
  const previous = io
  io = {...previous, ...next}
  return () => {
    io = previous
  }
}

/**
 * Writes every byte of `chunk` at the file's current offset, however many calls that takes.
 * Invariant: it returns only once all of them are written; a write that makes no progress or
 * fails (ENOSPC, EIO) throws, so a short write can never pass for a whole one.
 */
export function writeAll(fd: number, chunk: string | Uint8Array): void {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
  let offset = 0
  while (offset < bytes.length) {
    const n = io.writeSync(fd, bytes, offset, bytes.length - offset)
    if (!(n > 0)) throw Object.assign(new Error(`no progress after ${offset} of ${bytes.length} bytes`), {code: 'EIO'})
    offset += n
  }
}

/**
 * Writes a file so that readers see either the old content or the whole new content, never half:
 * the chunks go to a temporary file beside the target, each written in full (writeAll), the file
 * is fsynced, and only then renamed over the target. If anything fails on the way (producing a
 * chunk, a short write, a full disk, fsync, rename), the temporary file is removed and the target
 * is left as it was. Every failure of the file system is a one-line UnderstudyError naming the target.
 */
export function writeFileAtomic(file: string, content: string | Iterable<string>): void {
  const target = openTemp(file)
  try {
    for (const chunk of typeof content === 'string' ? [content] : content) writeAll(target.fd, chunk)
  } catch (e) {
    throw target.abandon(e)
  }
  target.commit()
}

/** writeFileAtomic for chunks produced asynchronously (a stream of batches); the same guarantees. */
export async function writeFileAtomicAsync(file: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  const target = openTemp(file)
  try {
    for await (const chunk of chunks) writeAll(target.fd, chunk)
  } catch (e) {
    throw target.abandon(e)
  }
  target.commit()
}

type Temp = {
  fd: number
  /** fsync, close, rename over the target; on failure the temporary file is removed and the error thrown. */
  commit(): void
  /** Closes and removes the temporary file; returns the error to throw. */
  abandon(e: unknown): unknown
}

function openTemp(file: string): Temp {
  const {abs, dir, tmp} = paths(file)
  try {
    io.mkdirSync(dir, {recursive: true})
  } catch (e) {
    throw dirError(file, e)
  }
  let fd: number
  try {
    fd = io.openSync(tmp, 'wx')
  } catch (e) {
    throw writeError(file, e)
  }
  let open = true
  const close = (): void => {
    if (!open) return
    open = false
    io.closeSync(fd)
  }
  const abandon = (e: unknown): unknown => {
    try {
      close()
    } catch {
      // The error being reported is the first one.
    }
    io.rmSync(tmp, {force: true})
    return failure(file, e)
  }
  return {
    fd,
    abandon,
    commit() {
      try {
        io.fsyncSync(fd)
        close()
        io.renameSync(tmp, abs)
      } catch (e) {
        throw abandon(e)
      }
    },
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

function writeError(file: string, e: unknown): FileWriteError {
  return new FileWriteError(file, e)
}

/** What a failed write throws: our errors as they are, a system error as one line, anything else (a bug in a chunk's producer) untouched. */
function failure(file: string, e: unknown): unknown {
  if (e instanceof UnderstudyError) return e
  return (e as NodeJS.ErrnoException).code ? writeError(file, e) : e
}
