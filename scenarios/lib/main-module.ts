import path from 'node:path'
import {pathToFileURL} from 'node:url'

/** Whether the module at `moduleUrl` is the script node was started with, not an import (generators are both). */
export function isMainModule(moduleUrl: string): boolean {
  return Boolean(process.argv[1]) && moduleUrl === pathToFileURL(path.resolve(process.argv[1]!)).href
}
