import {closeSync, constants, fstatSync, openSync, readFileSync, type Stats, statSync} from 'node:fs'
import {type FileHandle, open} from 'node:fs/promises'
import {UnderstudyError} from '../errors.js'

/**
 * Every file the program reads as input (traffic, bundle manifests and templates, scenario, drill,
 * fixtures, thresholds, cassettes, golden files, OTLP exports, skill modules) must be a regular
 * file. Anything else fails at once, naming the file: a named pipe would block the read until some
 * writer appears (forever), a device could stream without end, a directory is a usage mistake.
 *
 * Files are opened with O_NONBLOCK and checked with fstat on the open descriptor, so opening a FIFO
 * returns at once and what is checked is what is read (no race between a stat and the open).
 * O_NONBLOCK changes nothing for a regular file.
 */

/** Why `stats` is not a regular file, in words (`is a directory`, `is not a regular file (a named pipe)`), or null when it is one. */
export function notRegular(stats: Stats): string | null {
  if (stats.isFile()) return null
  if (stats.isDirectory()) return 'is a directory'
  if (stats.isFIFO()) return 'is not a regular file (a named pipe)'
  if (stats.isSocket()) return 'is not a regular file (a socket)'
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'is not a regular file (a device)'
  return 'is not a regular file'
}

/** `<file>: is a directory` / `<file>: is not a regular file (…)`; `reason` is the part after the file. */
export class NotRegularFileError extends UnderstudyError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`)
  }
}

const READ_NONBLOCK = constants.O_RDONLY | constants.O_NONBLOCK

/** Throws NotRegularFileError unless `file` (followed through links) is a regular file; fs errors (ENOENT…) pass through. */
export function assertRegularFile(file: string): void {
  const why = notRegular(statSync(file))
  if (why !== null) throw new NotRegularFileError(file, why)
}

/** A descriptor of `file` open for reading, checked to be a regular file. */
export function openRegularSync(file: string): number {
  const fd = openSync(file, READ_NONBLOCK)
  try {
    const why = notRegular(fstatSync(fd))
    if (why !== null) throw new NotRegularFileError(file, why)
    return fd
  } catch (e) {
    closeSync(fd)
    throw e
  }
}

/** The whole text (UTF-8) of a regular file. */
export function readRegularFileSync(file: string): string {
  const fd = openRegularSync(file)
  try {
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

/** A handle on `file` open for reading, checked to be a regular file. */
export async function openRegular(file: string): Promise<FileHandle> {
  const handle = await open(file, READ_NONBLOCK)
  try {
    const why = notRegular(await handle.stat())
    if (why !== null) throw new NotRegularFileError(file, why)
    return handle
  } catch (e) {
    await handle.close()
    throw e
  }
}

/** The whole text (UTF-8) of a regular file. */
export async function readRegularFile(file: string): Promise<string> {
  const handle = await openRegular(file)
  try {
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}
