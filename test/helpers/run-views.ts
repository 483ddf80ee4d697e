import {renderMarkdown} from '../../src/report/markdown.js'
import {renderJsonReport} from '../../src/report/formats.js'
import {listRun, type ListedRequest} from '../../src/runs/diff-list.js'
import {runSummary} from '../../src/runs/run-summary.js'
import {rollbackFrequency} from '../../src/rollout/history.js'
import {renderScorecard} from '../../src/scorecard/render.js'
import {scorecard} from '../../src/scorecard/scorecard.js'
import {DEFAULT_THRESHOLDS} from '../../src/scorecard/thresholds.js'
import type {RunInfo} from '../../src/store/api.js'
import {openStore} from '../../src/store/sqlite.js'

/**
 * What `diff --only all --json`, `report --format json|md` and `scorecard` show of a stored run,
 * its id and timings aside: two runs that should read the same (a merged one and a single process,
 * one replay thread and several) compare equal here.
 */
export async function runViews(file: string, run: RunInfo): Promise<string[]> {
  const store = openStore(file, {readonly: true})
  try {
    const listed: ListedRequest[] = []
    const totals = await listRun(store, run, 'all', (r) => listed.push(r))
    const {summary, golden} = await runSummary(store, run)
    const card = scorecard(summary, DEFAULT_THRESHOLDS, golden, rollbackFrequency(store.listBundleHistory()))
    const strip = (text: string): string =>
      text
        .replaceAll(run.id, 'RUN')
        .replace(/"(started_at|finished_at)": "[^"]*"/g, '"$1": "-"')
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    return [JSON.stringify({totals, listed}, null, 1), strip(renderJsonReport(summary, card)), strip(renderMarkdown(summary, card)), strip(renderScorecard(card))]
  } finally {
    store.close()
  }
}
