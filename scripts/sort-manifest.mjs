// oclif writes the manifest's commands in the order its parallel loaders finish, which differs from one
// machine (or one run) to the next; a fresh `npm ci` then leaves the committed manifest modified. Sorting the
// commands by id makes the generated file byte-stable.
import {readFileSync, writeFileSync} from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
const commands = Object.fromEntries(Object.keys(manifest.commands).sort().map((id) => [id, manifest.commands[id]]))
writeFileSync(path, JSON.stringify({...manifest, commands}, null, 2) + '\n')
