#!/usr/bin/env node
// Renders an HTML report to PNG with Debian's headless chromium, for people and CI to look at.
//   node scripts/screenshot-report.mjs report.html [report.png] [--width 1280] [--height 2000]
// Install chromium with `apt-get install -y chromium` when it is missing.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

function usage(message) {
  if (message) process.stderr.write(`screenshot-report: ${message}\n`)
  process.stderr.write('usage: node scripts/screenshot-report.mjs <report.html> [out.png] [--width N] [--height N]\n')
  process.exit(2)
}

const positional = []
const size = {width: 1280, height: 2000}
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--width' || a === '--height') {
    const n = Number(argv[++i])
    if (!Number.isInteger(n) || n < 100 || n > 20000) usage(`${a} needs a whole number of pixels between 100 and 20000`)
    size[a.slice(2)] = n
  } else if (a === '-h' || a === '--help') {
    usage()
  } else {
    positional.push(a)
  }
}
if (positional.length < 1 || positional.length > 2) usage('give the HTML report and, optionally, the PNG to write')

const html = path.resolve(positional[0])
if (!existsSync(html) || !statSync(html).isFile()) usage(`${positional[0]}: no such file`)
const png = path.resolve(positional[1] ?? html.replace(/\.html?$/i, '') + '.png')

const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium'
if (!existsSync(chromium)) usage(`${chromium} not found; install it with: apt-get install -y chromium`)

const profile = mkdtempSync(path.join(tmpdir(), 'understudy-chromium-'))
try {
  const r = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--screenshot=${png}`,
      `--window-size=${size.width},${size.height}`,
      pathToFileURL(html).href,
    ],
    {encoding: 'utf8', timeout: 120_000},
  )
  if (r.error) usage(`could not run ${chromium}: ${r.error.message}`)
  if (r.status !== 0 || !existsSync(png)) {
    process.stderr.write(r.stderr)
    usage(`chromium exited with status ${r.status} and wrote no screenshot`)
  }
  process.stdout.write(`${png}\n`)
} finally {
  rmSync(profile, {recursive: true, force: true})
}
