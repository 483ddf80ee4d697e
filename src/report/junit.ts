import {type CauseGroup, describeSignature} from '../diff/cause.js'
import type {AcceptedEntry} from '../diff/accepted.js'
import type {ListedRequest} from '../runs/diff-list.js'
import type {RunSummary} from '../runs/summary.js'
import type {Scorecard} from '../scorecard/scorecard.js'

/**
 * JUnit XML for CI test tabs (the testsuites/testsuite/testcase/failure/skipped shape that
 * Jenkins, GitLab, GitHub test reporters and Azure read). One suite for the scorecard (a red
 * dimension fails), one for the run: a testcase per cause group or per request, a failure for each
 * regression with its reason codes and cause, `skipped` for an accepted difference (shown, with who
 * and why, never failed and never hidden). Pure; every text is escaped (`xmlText`).
 */

export const JUNIT_TESTCASES = ['cause', 'request'] as const
export type JunitTestcases = (typeof JUNIT_TESTCASES)[number]

// XML 1.0 allows tab, newline, carriage return and U+0020 up, less the surrogates and U+FFFE/U+FFFF.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Text or attribute value: markup characters escaped, characters XML 1.0 cannot hold written as `\uXXXX`. */
export function xmlText(s: unknown): string {
  return String(s)
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

type Case = {classname: string; name: string; failure?: {message: string; type: string; body: string}; skipped?: string; out?: string}

function testcase(c: Case): string {
  const open = `    <testcase classname="${xmlText(c.classname)}" name="${xmlText(c.name)}"`
  const inner: string[] = []
  if (c.failure) inner.push(`      <failure message="${xmlText(c.failure.message)}" type="${xmlText(c.failure.type)}">${xmlText(c.failure.body)}</failure>`)
  if (c.skipped !== undefined) inner.push(`      <skipped message="${xmlText(c.skipped)}"/>`)
  if (c.out !== undefined) inner.push(`      <system-out>${xmlText(c.out)}</system-out>`)
  return inner.length === 0 ? `${open}/>` : `${open}>\n${inner.join('\n')}\n    </testcase>`
}

type Suite = {xml: string; tests: number; failures: number; skipped: number}

function suite(name: string, cases: Case[], out?: string): Suite {
  const failures = cases.filter((c) => c.failure).length
  const skipped = cases.filter((c) => c.skipped !== undefined).length
  const body = cases.map(testcase)
  if (out !== undefined) body.push(`    <system-out>${xmlText(out)}</system-out>`)
  const xml = `  <testsuite name="${xmlText(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${body.join('\n')}\n  </testsuite>`
  return {xml, tests: cases.length, failures, skipped}
}

const codesOf = (g: CauseGroup): string[] => [...new Set(g.signature.facets.map((f) => f.code))]
const acceptedText = (e: AcceptedEntry): string => `accepted by ${e.by} on ${e.at}: ${e.reason}`

function scorecardCases(card: Scorecard): Case[] {
  return card.dimensions.map((d) => ({
    classname: 'understudy.scorecard',
    name: d.name,
    ...(d.colour === 'red' ? {failure: {message: d.reason, type: 'red', body: d.reason}} : {out: `${d.colour}: ${d.reason}`}),
  }))
}

function causeCases(s: RunSummary): Case[] {
  const cases: Case[] = s.causes.groups.map((g) => {
    const what = describeSignature(g.signature)
    const body = [`cause ${g.cause}: ${what}`, `${g.requests} request(s), e.g. ${g.examples.join(', ')}`, `understudy diff ${s.run.id} --cause ${g.cause}`].join('\n')
    return {
      classname: `understudy.${g.class}`,
      name: `${g.cause} ${what}`,
      ...(g.class === 'regression' ? {failure: {message: `${g.requests} regression(s): ${codesOf(g).join(', ')}`, type: codesOf(g)[0] ?? 'regression', body}} : {out: body}),
    }
  })
  for (const g of s.accepted.groups)
    cases.push({classname: `understudy.accepted.${g.class}`, name: `${g.cause} ${describeSignature(g.signature)}`, skipped: `${g.requests} request(s) ${acceptedText(g.entry)}`})
  return cases
}

function requestCases(runId: string, requests: readonly ListedRequest[]): Case[] {
  return requests.map((r) => {
    const name = `${r.request_id} (line ${r.line})`
    const classname = `understudy.${r.class}`
    if (r.accepted !== undefined) return {classname: `understudy.accepted.${r.class}`, name, skipped: `cause ${r.cause ?? ''} ${acceptedText(r.accepted)}`}
    if (r.class !== 'regression') return {classname, name}
    const codes = [...new Set(r.reasons.filter((x) => x.class === 'regression').map((x) => x.code))]
    const body = [...r.reasons.map((x) => `${x.class} ${x.code} ${x.field}: ${x.message}`), `cause ${r.cause ?? '?'}`, `understudy diff ${runId} --request ${r.request_id}`].join('\n')
    return {classname, name, failure: {message: `regression: ${codes.join(', ')} (cause ${r.cause ?? '?'})`, type: codes[0] ?? 'regression', body}}
  })
}

/**
 * The JUnit document. `requests`: every compared request with its cause, for `by: 'request'`
 * (src/runs/diff-list.ts listRun with `withCause`); the cause groups come from the summary.
 */
export function renderJunit(s: RunSummary, card: Scorecard, opts: {by: JunitTestcases; requests?: readonly ListedRequest[]}): string {
  const scorecard = suite(`understudy scorecard ${s.run.id}`, scorecardCases(card))
  const omitted = s.causes.omitted > 0 ? `${s.causes.omitted} smaller cause groups are not listed; --testcase request lists every request` : undefined
  const run =
    opts.by === 'cause'
      ? suite(`understudy causes ${s.run.id}`, causeCases(s), omitted)
      : suite(`understudy requests ${s.run.id}`, requestCases(s.run.id, opts.requests ?? []))
  const all = [scorecard, run]
  const count = (k: 'tests' | 'failures' | 'skipped'): number => all.reduce((n, x) => n + x[k], 0)
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="understudy ${xmlText(s.run.id)}" tests="${count('tests')}" failures="${count('failures')}" errors="0" skipped="${count('skipped')}">\n${all.map((x) => x.xml).join('\n')}\n</testsuites>\n`
}
