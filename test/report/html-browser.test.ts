import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import chromium from '@sparticuz/chromium'
import puppeteer, {type Browser, type Page} from 'puppeteer-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport} from '../../src/report/render.js'
import {joinRegressionContext} from '../../src/runs/request-record.js'
import {runSummary} from '../../src/runs/run-summary.js'
import type {RunSummary} from '../../src/runs/summary.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {startShadow} from '../../src/shadow/run.js'
import {tempStore} from '../factories/store.js'
import {removeTempDirs} from '../factories/temp-dir.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * The HTML report in a real browser (headless Chromium from @sparticuz/chromium): made from a
 * shadow run of the first 12 lines of the banking scenario (two tenants, injected documents), opened from its
 * file, with every script error or console error failing the test. Screenshots are written under
 * the OS temp dir (printed), outside the repository.
 */

const SHOTS = path.join(tmpdir(), 'understudy-html-report')
const scenario = path.join(repoRoot, 'scenarios', 'banking-assistant')

let browser: Browser
let page: Page
let summary: RunSummary
let html: string
const errors: string[] = []

beforeAll(async () => {
  const {dir, store} = tempStore({prefix: 'understudy-html-'})
  try {
    const traffic = path.join(dir, 'traffic.jsonl')
    writeFileSync(traffic, readFileSync(path.join(scenario, 'traffic.jsonl'), 'utf8').split('\n').slice(0, 12).join('\n') + '\n')
    const {run} = await startShadow(
      {traffic, candidate: path.join(scenario, 'v2-no-injection-defence'), fixtures: path.join(scenario, 'fixtures.yaml'), model: 'compromised', approver: 'pending'},
      store,
    )
    ;({summary} = await runSummary(store, run))
    await joinRegressionContext(store, summary)
    html = renderReport('html', summary, scorecard(summary))
  } finally {
    store.close()
  }
  rmSync(SHOTS, {recursive: true, force: true})
  mkdirSync(SHOTS, {recursive: true})
  const file = path.join(SHOTS, 'report.html')
  writeFileSync(file, html)
  console.log(`HTML report and screenshots: ${SHOTS}`)
  browser = await puppeteer.launch({args: chromium.args, executablePath: await chromium.executablePath(), headless: true})
  page = await browser.newPage()
  await page.setViewport({width: 1280, height: 900})
  page.on('pageerror', (e) => errors.push(`pageerror: ${(e as Error).message}`))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  // Nothing may be loaded from anywhere but the file itself.
  page.on('request', (r) => {
    if (!r.url().startsWith('file://')) errors.push(`request: ${r.url()}`)
  })
  await page.goto(`file://${file}`, {waitUntil: 'load'})
}, 60_000)

afterAll(async () => {
  await browser?.close()
  removeTempDirs()
})

/** An expression evaluated in the page (a string: this project's TypeScript has no DOM types). */
const js = <T>(expression: string): Promise<T> => page.evaluate(expression) as Promise<T>

/** The classes of the request rows a reader can see. */
const visibleRows = (): Promise<string[]> =>
  js(`[...document.querySelectorAll('#req-table tbody tr')].filter((r) => !r.hidden && r.offsetParent !== null).map((r) => r.dataset.class)`)
const text = (selector: string): Promise<string> => js(`document.querySelector(${JSON.stringify(selector)}).textContent`)

describe('the HTML report in a headless browser', () => {
  it('has a run with regressions, behaviour changes, two tenants and injected documents to show', () => {
    expect(summary.classes.regression).toBeGreaterThan(0)
    expect(summary.tenants.rows.length).toBe(2)
    expect(summary.changed.listed.length).toBeGreaterThan(3)
    expect(summary.regressions.diffs.some((d) => d.record?.retrieved.length)).toBe(true)
  })

  it('opens without a script error and shows the verdict first', async () => {
    await page.screenshot({path: path.join(SHOTS, 'top.png')})
    expect(errors).toEqual([])
    const verdict = await text('#verdict h2')
    expect(verdict).toMatch(/^Verdict: (RED|AMBER|GREEN)/)
    expect(await text('#req-count')).toBe(`${summary.changed.listed.length} of ${summary.changed.listed.length} shown`)
  })

  it('filters the changed requests as one types and by class', async () => {
    const all = await visibleRows()
    expect(all.length).toBe(summary.changed.listed.length)
    const first = summary.regressions.diffs[0]!.diff.request_id
    await page.type('#q', first)
    const typed = await visibleRows()
    expect(typed.length).toBeGreaterThan(0)
    expect(typed.length).toBeLessThan(all.length)
    expect(await text('#req-count')).toBe(`${typed.length} of ${all.length} shown`)
    await page.screenshot({path: path.join(SHOTS, 'search.png')})
    // clear the search, keep only the regressions
    await js(`document.getElementById('q').value = ''`)
    await page.select('#f-class', 'regression')
    const regressions = await visibleRows()
    expect(regressions.length).toBe(summary.changed.listed.filter((r) => r.class === 'regression').length)
    expect(new Set(regressions)).toEqual(new Set(['regression']))
    await page.select('#f-class', '')
    expect((await visibleRows()).length).toBe(all.length)
    expect(errors).toEqual([])
  })

  it("follows a verdict reason to its cause group, and a cause's count to its requests", async () => {
    const link = await page.$('#verdict a[href^="#cause-"]')
    expect(link).not.toBeNull()
    const href = (await link!.evaluate((a) => a.getAttribute('href')))!
    await link!.click()
    expect(await js('location.hash')).toBe(href)
    // the target row is on screen
    const top = await js<number>(`document.querySelector(${JSON.stringify(href)}).getBoundingClientRect().top`)
    expect(top).toBeGreaterThanOrEqual(0)
    expect(top).toBeLessThan(900)
    await page.screenshot({path: path.join(SHOTS, 'verdict-link.png')})
    const cause = href.slice('#cause-'.length)
    await page.click(`${href} a[data-cause]`)
    const rows = await visibleRows()
    expect(rows.length).toBe(summary.changed.listed.filter((r) => r.cause === cause).length)
    expect(errors).toEqual([])
  })

  it("shows a regression's request: its conversation, documents with trust, and calls in full", async () => {
    // one whose documents carry the injection, past the entries shown open: the link opens it
    const i = summary.regressions.diffs.findLastIndex((d) => d.record?.retrieved.some((doc) => doc.trust === 'untrusted'))
    expect(i).toBeGreaterThanOrEqual(0)
    const entry = summary.regressions.diffs[i]!
    await page.goto(`file://${path.join(SHOTS, 'report.html')}#req-${i}`, {waitUntil: 'load'})
    expect(await js(`document.getElementById('req-${i}').open`)).toBe(true)
    const shown = await js<string>(`document.getElementById('req-${i}').innerText`)
    expect(shown).toContain('CONVERSATION')
    expect(shown).toContain(entry.record!.input[0]!.content.slice(0, 40))
    expect(shown).toContain('RETRIEVED DOCUMENTS')
    expect(shown).toMatch(/untrusted/)
    expect(shown).toContain('TOOL CALLS IN FULL')
    await js(`document.querySelector('#req-${i} .ctx').scrollIntoView()`)
    await page.screenshot({path: path.join(SHOTS, 'request.png')})
    expect(errors).toEqual([])
  })
})
