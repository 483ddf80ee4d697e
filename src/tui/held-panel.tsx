import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import type {HeldAction} from '../runs/approvals.js'
import type {ApprovalDecision} from '../store/api.js'
import {canonicalJson} from '../util/canonical.js'
import {oneLine} from './text.js'
import {Cell, Line} from './widgets.js'

/** A held call as the request view shows it, with the decision in force and why it was taken. */
export type HeldRow = HeldAction & {decidedWhy: string | null; decidedAt: string | null}

export function heldRows(held: readonly HeldAction[], decided: ReadonlyMap<string, ApprovalDecision>): HeldRow[] {
  return held.map((h) => {
    const d = decided.get(h.ref)
    return {...h, decidedWhy: d?.reason ?? null, decidedAt: d?.at ?? null}
  })
}

/** Most held calls listed at once; the one under the cursor is always among them. */
export const HELD_SHOWN = 3

/** Lines the panel takes: a title, the calls, and the hint. */
export const heldPanelHeight = (n: number): number => (n === 0 ? 0 : 2 + Math.min(n, HELD_SHOWN))

/**
 * The calls of this request the candidate held for approval, and what a person decided on each:
 * `a` approves and `r` rejects the one under the cursor (tab moves it); `understudy approvals
 * apply` carries the decisions out in a new run.
 */
export function HeldPanel({rows, selected, runId, width}: {rows: readonly HeldRow[]; selected: number; runId: string; width: number}): React.JSX.Element | null {
  if (rows.length === 0) return null
  const first = Math.max(0, Math.min(selected - HELD_SHOWN + 1, rows.length - HELD_SHOWN))
  const decided = rows.filter((r) => r.decision !== null).length
  return (
    <Box flexDirection="column" height={heldPanelHeight(rows.length)}>
      <Line width={width} bold color="yellow">
        {`held for approval: ${rows.length} call${rows.length === 1 ? '' : 's'}, ${decided} decided`}
      </Line>
      {rows.slice(first, first + HELD_SHOWN).map((r, i) => {
        const active = first + i === selected
        const verdict = r.decision === null ? 'undecided' : `${r.decision} by ${oneLine(r.decided_by ?? '?')}${r.decidedWhy ? `: ${oneLine(r.decidedWhy)}` : ''}`
        return (
          <Box key={r.ref} height={1}>
            <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
            <Cell width={width - 2}>
              <Text inverse={active}>{oneLine(r.ref)}</Text>
              {` ${oneLine(r.tool)} `}
              {/* The decision before the arguments: a long argument list is cut at the edge, the decision never. */}
              <Text bold color={r.decision === 'approved' ? 'green' : r.decision === 'rejected' ? 'red' : 'yellow'}>
                {verdict}
              </Text>
              <Text dimColor>{` · ${r.rule ? `rule ${oneLine(r.rule)} ` : ''}${oneLine(r.reason)} · `}</Text>
              {oneLine(canonicalJson(r.args))}
            </Cell>
          </Box>
        )
      })}
      <Line width={width} dim>
        {`a approve · r reject · tab next call${decided > 0 ? ` · carry out: understudy approvals apply ${runId}` : ''}`}
      </Line>
    </Box>
  )
}
