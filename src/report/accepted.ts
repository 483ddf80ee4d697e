import type {AcceptedEntry} from '../diff/accepted.js'
import type {AcceptedGroup, RunSummary} from '../runs/summary.js'

/** The accepted differences of a run as text lines: what a reviewer accepted and which entries are stale. */

export const acceptedGroupText = (g: AcceptedGroup): string =>
  `${g.cause} ${g.class} ${g.requests} request${g.requests === 1 ? '' : 's'}, accepted by ${g.entry.by} on ${g.entry.at}: ${g.entry.reason}`

export const staleText = (e: AcceptedEntry, runId: string): string =>
  `cause ${e.cause} (accepted by ${e.by} on ${e.at}: ${e.reason}) no longer occurs in run ${runId}: stale, remove it once reviewed`

/** Empty when the run was judged without accepted differences; else one line per group, then one per stale entry. */
export function acceptedLines(s: RunSummary, file: string | null): string[] {
  if (file === null) return []
  const {groups, stale} = s.accepted
  const head = `accepted differences (${file}): ${s.requests.accepted} request${s.requests.accepted === 1 ? '' : 's'} of ${groups.length} cause${groups.length === 1 ? '' : 's'}, counted apart from every figure`
  return [head, ...groups.map((g) => `  accepted ${acceptedGroupText(g)}`), ...stale.map((e) => `  stale ${staleText(e, s.run.id)}`)]
}
