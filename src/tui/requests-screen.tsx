import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useRef, useState} from 'react'
import type {RunInfo} from '../store/api.js'
import type {TraceSide} from '../trace/schema.js'
import {COPY_KEY, RUN_KEYS, type RunAction} from './app-keys.js'
import {isListAction, LIST_KEYS, STEP} from './cursor-keys.js'
import {scrollTop, TABS, tabCount, type RequestEntry, type TabId} from './entries.js'
import {actionOf, briefKeys, char, commonKeys, type KeyTable} from './key-table.js'
import type {LoadState} from './loader.js'
import {groupCount, groupOf, nextOrder, type OrderBy} from './request-order.js'
import {oneLine} from './text.js'
import {Cell, CLASS_COLOUR, CLASS_LABEL, Line, StatusLine, useKeys} from './widgets.js'

/** Where the user is in the list; kept by the app so that it survives opening a request. */
export type ListState = {
  tab: TabId
  needle: string
  cursor: number
  top: number
  /** Only this cause's requests (chosen on the causes screen), or all. */
  cause: string | null
  order: OrderBy
}

export const initialListState: ListState = {tab: 'all', needle: '', cursor: 0, top: 0, cause: null, order: 'line'}

export type RequestsScreenProps = {
  run: RunInfo
  baseSide: TraceSide
  load: LoadState
  list: ListState
  setList: React.Dispatch<React.SetStateAction<ListState>>
  /** The rows shown, in order (indexes into load.entries): see use-shown-requests.ts. */
  shown: readonly number[]
  width: number
  height: number
  onOpen: (entry: RequestEntry) => void
  onBack: () => void
  onQuit: () => void
  onHelp: () => void
  onRunAction: (a: RunAction) => void
  onCopy: (requestId: string) => void
}

export const REQUESTS_KEYS: KeyTable = [
  ...LIST_KEYS,
  {action: 'tab', keys: '1-5', help: 'class tab: all, regressions, behaviour, improved, benign/noise', match: (input) => TABS.some((t) => t.key === input), brief: ['1-5', 'class']},
  char('filter', '/', 'filter as you type (id, tenant, tool, reason); enter keeps it, esc clears it', 'filter'),
  char('order', 's', 'order: by line, or grouped by class (most severe first), cause, tenant, tool', 'sort'),
  {action: 'open', keys: 'enter', help: 'open the request side by side', match: (_i, key) => key.return, brief: ['enter', 'open']},
  ...COPY_KEY,
  ...RUN_KEYS,
  {action: 'back', keys: 'esc', help: 'clear the text filter; with none, back to the causes', match: (_i, key) => key.escape, brief: ['esc', 'back']},
  ...commonKeys(),
]

export const FILTER_KEYS: KeyTable = [
  {action: 'keep', keys: 'enter', help: 'keep the filter', match: (_i, key) => key.return, brief: ['enter', 'keep']},
  {action: 'clear', keys: 'esc', help: 'clear the filter', match: (_i, key) => key.escape, brief: ['esc', 'clear']},
  {action: 'erase', keys: '⌫', help: 'erase a character', match: (_i, key) => key.backspace || key.delete},
]

/** The end of what is being typed, so the cursor stays in view. */
function tail(s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : '…' + chars.slice(chars.length - Math.max(1, max - 1)).join('')
}

/** Title, tabs, info line, column header, status line. */
const CHROME = 5

export function RequestsScreen(props: RequestsScreenProps): React.JSX.Element {
  const {run, baseSide, load, list, setList, shown, width, height, onOpen, onBack, onQuit, onHelp, onRunAction, onCopy} = props
  const [prompt, setPromptState] = useState(false)
  const listHeight = Math.max(1, height - CHROME)
  const cursor = Math.max(0, Math.min(list.cursor, shown.length - 1))
  const top = scrollTop(cursor, list.top, listHeight, shown.length)

  // Ink re-subscribes the key handler only after a render commits, and keys can arrive faster than
  // that: the handler works on this mirror of the newest state, which it updates as it goes.
  const latest = useRef({shown, entries: load.entries, listHeight, cursor, top, needle: list.needle, order: list.order, prompt})
  latest.current = {shown, entries: load.entries, listHeight, cursor, top, needle: list.needle, order: list.order, prompt: latest.current.prompt}
  const setPrompt = (p: boolean): void => {
    latest.current.prompt = p
    setPromptState(p)
  }
  const update = (change: Partial<ListState>): void => {
    Object.assign(latest.current, change)
    setList((prev) => ({...prev, ...change}))
  }
  const current = (): RequestEntry | undefined => {
    const {shown: rows, entries, cursor: at} = latest.current
    const i = rows[at]
    return i === undefined ? undefined : entries[i]
  }

  useKeys((input, key) => {
    if (latest.current.prompt) {
      // The list narrows on every keystroke: the needle is the text typed so far.
      const typed = latest.current.needle
      const a = actionOf(FILTER_KEYS, input, key)
      if (a === 'keep') setPrompt(false)
      else if (a === 'clear') {
        update({needle: '', cursor: 0, top: 0})
        setPrompt(false)
      } else if (a === 'erase') update({needle: [...typed].slice(0, -1).join(''), cursor: 0, top: 0})
      else if (input && !key.ctrl && !key.meta) update({needle: typed + oneLine(input), cursor: 0, top: 0})
      return
    }
    const a = actionOf(REQUESTS_KEYS, input, key)
    if (a === null) return
    if (isListAction(a)) {
      const v = latest.current
      const c = Math.max(0, Math.min(v.shown.length - 1, STEP[a](v.cursor, v.listHeight, v.shown.length)))
      update({cursor: c, top: scrollTop(c, v.top, v.listHeight, v.shown.length)})
      return
    }
    switch (a) {
      case 'quit':
        return onQuit()
      case 'help':
        return onHelp()
      case 'back':
        // The first esc clears a text filter; the next one goes back.
        if (latest.current.needle !== '') update({needle: '', cursor: 0, top: 0})
        else onBack()
        return
      case 'filter':
        return setPrompt(true)
      case 'tab':
        return update({tab: TABS.find((t) => t.key === input)!.id, cursor: 0, top: 0})
      case 'order':
        return update({order: nextOrder(latest.current.order), cursor: 0, top: 0})
      case 'open': {
        const e = current()
        if (e) onOpen(e)
        return
      }
      case 'copy': {
        const e = current()
        if (e) onCopy(e.request_id)
        return
      }
      case 'scorecard':
      case 'report':
        return onRunAction(a)
    }
  })

  // Columns as wide as their widest value so far (within limits); the reasons get the rest.
  const grouped = list.order !== 'line'
  const classW = 12
  const lineW = Math.max(5, String(load.widest.line).length + 2)
  const idW = Math.max(9, Math.min(Math.floor(width * 0.3), load.widest.id + 1))
  const tenantW = Math.max(7, Math.min(Math.floor(width * 0.15), load.widest.tenant + 1))
  // Class and tenant are columns already; a cause or tool group gets a column of its own.
  const groupW = list.order === 'cause' ? 11 : list.order === 'tool' ? Math.max(6, Math.min(Math.floor(width * 0.2), 16)) : 0
  const reasonsW = Math.max(0, width - 2 - classW - idW - lineW - tenantW - groupW)

  const c = load.counts
  const status = load.error
    ? `loading failed: ${load.error}`
    : load.done
      ? `${c.total} compared vs ${baseSide} · same ${c.same}` + (c.incomplete > 0 ? ` · incomplete ${c.incomplete}` : '')
      : `loading ${c.total}…`
  const filterNote = list.needle ? ` · filter "${oneLine(list.needle)}" ${shown.length} shown` : ''
  const position = shown.length > 0 ? ` · ${cursor + 1}/${shown.length}` : ''
  const orderNote = grouped ? ` · by ${list.order} (${groupCount(load.entries, shown, list.order)} groups)` : ''
  // Short tab labels when the long ones would not fit, so that no count is cut off.
  const long = TABS.map((t) => ({...t, text: t.label as string}))
  const tabs = TABS.reduce((n, t) => n + t.label.length + String(tabCount(c, t.id)).length + 5, -2) <= width ? long : TABS.map((t) => ({...t, text: t.short as string}))

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`run ${run.id} · ${list.cause === null ? '' : `cause ${list.cause} · `}${grouped ? `by ${list.order} · ` : ''}${oneLine(run.candidate_ref)} vs ${oneLine(run.baseline_ref)}`}
      </Line>
      <Line width={width}>
        {tabs.map((t, i) => {
          const active = t.id === list.tab
          const colour = t.id === 'all' ? undefined : CLASS_COLOUR[t.id]
          return (
            <Text key={t.key}>
              {i > 0 ? '  ' : ''}
              <Text inverse={active} bold={active}>
                <Text color={active ? undefined : 'cyan'}>{t.key}</Text> <Text color={active ? undefined : colour}>{t.text}</Text>{' '}
                {tabCount(c, t.id)}
              </Text>
            </Text>
          )
        })}
      </Line>
      <Line width={width} color={load.error ? 'red' : load.done ? undefined : 'yellow'} dim={load.done && !load.error}>
        {status + orderNote + filterNote + position}
      </Line>
      <Box height={1}>
        <Cell width={2}> </Cell>
        <Cell gap width={classW} dim>CLASS</Cell>
        {groupW > 0 ? <Cell gap width={groupW} dim>{list.order.toUpperCase()}</Cell> : null}
        <Cell gap width={idW} dim>REQUEST</Cell>
        <Cell gap width={lineW} dim>{'LINE'.padStart(lineW - 1)}</Cell>
        <Cell gap width={tenantW} dim>TENANT</Cell>
        <Cell width={reasonsW} dim>REASONS</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {shown.length === 0 ? (
          <Text dimColor>{load.done ? 'no requests match' : 'no matching requests yet…'}</Text>
        ) : (
          shown.slice(top, top + listHeight).map((index, i) => {
            const e = load.entries[index]!
            const at = top + i
            const active = at === cursor
            const more = e.reasonCount > e.reasons.length ? ` (+${e.reasonCount - e.reasons.length})` : ''
            const noise = e.noiseCount > 0 ? ` ~${e.noiseCount} noise` : ''
            // A group's first row names it; the rows after it in the same group dim the name.
            const group = groupOf(e, list.order)
            const prev = at > 0 ? load.entries[shown[at - 1]!] : undefined
            const groupStart = grouped && (prev === undefined || groupOf(prev, list.order) !== group)
            return (
              <Box key={index} height={1}>
                <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
                <Cell gap width={classW} color={CLASS_COLOUR[e.class]} bold={list.order === 'class' && groupStart}>{CLASS_LABEL[e.class]}</Cell>
                {groupW > 0 ? <Cell gap width={groupW} dim={!groupStart} bold={groupStart}>{group}</Cell> : null}
                <Cell gap width={idW} inverse={active}>{e.request_id}</Cell>
                <Cell gap width={lineW} dim>{String(e.line).padStart(lineW - 1)}</Cell>
                <Cell gap width={tenantW} dim={list.order === 'tenant' && !groupStart} bold={list.order === 'tenant' && groupStart}>{e.tenant}</Cell>
                <Cell width={reasonsW}>{e.reasons.join('; ') + more + noise}</Cell>
              </Box>
            )
          })
        )}
      </Box>
      {prompt ? (
        <Box height={1} width={width}>
          <Cell width={width}>
            <Text color="cyan" bold>
              /
            </Text>
            {tail(oneLine(list.needle), width - 40)}
            <Text inverse> </Text>
            <Text dimColor>{'  id, tenant, tool, reason · '}</Text>
            {briefKeys(FILTER_KEYS).map(([k, a]) => `${k} ${a}`).join(' · ')}
          </Cell>
        </Box>
      ) : (
        <StatusLine width={width} keys={briefKeys(REQUESTS_KEYS)} />
      )}
    </Box>
  )
}
