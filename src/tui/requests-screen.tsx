import {Box} from 'ink'
import {Text} from '../cli/colour-text.js'
import type React from 'react'
import {useRef, useState} from 'react'
import type {RunInfo} from '../store/api.js'
import type {TraceSide} from '../trace/schema.js'
import {IncrementalFilter, scrollTop, TABS, tabCount, type RequestEntry, type TabId} from './entries.js'
import type {LoadState} from './loader.js'
import {oneLine} from './text.js'
import {Cell, CLASS_COLOUR, CLASS_LABEL, Line, StatusLine, useKeys, type KeyHelp} from './widgets.js'
import {type CursorStep, cursorStep} from './cursor-keys.js'

/** Where the user is in the list; kept by the app so that it survives opening a request. */
export type ListState = {tab: TabId; needle: string; cursor: number; top: number; /** Only this cause's requests (chosen on the causes screen), or all. */ cause: string | null}

export const initialListState: ListState = {tab: 'all', needle: '', cursor: 0, top: 0, cause: null}

export type RequestsScreenProps = {
  run: RunInfo
  baseSide: TraceSide
  load: LoadState
  list: ListState
  setList: React.Dispatch<React.SetStateAction<ListState>>
  width: number
  height: number
  onOpen: (entry: RequestEntry) => void
  onBack: () => void
  onQuit: () => void
}

const KEYS: KeyHelp = [
  ['↑↓/jk', 'move'],
  ['PgUp/Dn g/G', 'jump'],
  ['1-5', 'class'],
  ['/', 'filter'],
  ['enter', 'open'],
  ['esc', 'back'],
  ['q', 'quit'],
]

const PROMPT_KEYS: KeyHelp = [
  ['enter', 'apply'],
  ['esc', 'cancel'],
]

/** The end of what is being typed, so the cursor stays in view. */
function tail(s: string, max: number): string {
  const chars = [...s]
  return chars.length <= max ? s : '…' + chars.slice(chars.length - Math.max(1, max - 1)).join('')
}

/** Title, tabs, info line, column header, status line. */
const CHROME = 5

export function RequestsScreen(props: RequestsScreenProps): React.JSX.Element {
  const {run, baseSide, load, list, setList, width, height, onOpen, onBack, onQuit} = props
  const [prompt, setPromptState] = useState<string | null>(null)
  const filter = useRef(new IncrementalFilter())
  const shown = filter.current.update(load.entries, list.tab, list.needle, list.cause)
  const listHeight = Math.max(1, height - CHROME)
  const cursor = Math.max(0, Math.min(list.cursor, shown.length - 1))
  const top = scrollTop(cursor, list.top, listHeight, shown.length)

  // Ink re-subscribes the key handler only after a render commits, and keys can arrive faster than
  // that: the handler works on this mirror of the newest state, which it updates as it goes.
  const latest = useRef({shown, entries: load.entries, listHeight, cursor, top, needle: list.needle, prompt})
  latest.current = {shown, entries: load.entries, listHeight, cursor, top, needle: list.needle, prompt: latest.current.prompt}
  const setPrompt = (p: string | null): void => {
    latest.current.prompt = p
    setPromptState(p)
  }
  const update = (change: Partial<ListState>): void => {
    Object.assign(latest.current, change)
    setList((prev) => ({...prev, ...change}))
  }
  const move = (to: CursorStep): void => {
    const v = latest.current
    const c = Math.max(0, Math.min(v.shown.length - 1, to(v.cursor, v.listHeight, v.shown.length)))
    update({cursor: c, top: scrollTop(c, v.top, v.listHeight, v.shown.length)})
  }

  useKeys((input, key) => {
    const step = cursorStep(input, key)
    const typed = latest.current.prompt
    if (typed !== null) {
      if (key.escape) setPrompt(null)
      else if (key.return) {
        update({needle: typed.trim(), cursor: 0, top: 0})
        setPrompt(null)
      } else if (key.backspace || key.delete) setPrompt([...typed].slice(0, -1).join(''))
      else if (input && !key.ctrl && !key.meta) setPrompt(typed + oneLine(input))
      return
    }
    const tab = TABS.find((t) => t.key === input)
    if (input === 'q') onQuit()
    else if (key.escape) {
      // The first esc clears a text filter; the next one goes back.
      if (latest.current.needle !== '') update({needle: '', cursor: 0, top: 0})
      else onBack()
    } else if (input === '/') setPrompt(latest.current.needle)
    else if (tab) update({tab: tab.id, cursor: 0, top: 0})
    else if (step) move(step)
    else if (key.return) {
      const {shown: rows, entries, cursor: at} = latest.current
      const i = rows[at]
      if (i !== undefined && entries[i]) onOpen(entries[i])
    }
  })

  // Columns as wide as their widest value so far (within limits); the reasons get the rest.
  const classW = 12
  const lineW = Math.max(5, String(load.widest.line).length + 2)
  const idW = Math.max(9, Math.min(Math.floor(width * 0.3), load.widest.id + 1))
  const tenantW = Math.max(7, Math.min(Math.floor(width * 0.15), load.widest.tenant + 1))
  const reasonsW = Math.max(0, width - 2 - classW - idW - lineW - tenantW)

  const c = load.counts
  const status = load.error
    ? `loading failed: ${load.error}`
    : load.done
      ? `${c.total} compared vs ${baseSide} · same ${c.same}` + (c.incomplete > 0 ? ` · incomplete ${c.incomplete}` : '')
      : `loading ${c.total}…`
  const filterNote = list.needle ? ` · filter "${list.needle}" ${shown.length} shown` : ''
  // Short tab labels when the long ones would not fit, so that no count is cut off.
  const long = TABS.map((t) => ({...t, text: t.label as string}))
  const tabs = TABS.reduce((n, t) => n + t.label.length + String(tabCount(c, t.id)).length + 5, -2) <= width ? long : TABS.map((t) => ({...t, text: t.short as string}))
  const position = shown.length > 0 ? ` · ${cursor + 1}/${shown.length}` : ''

  return (
    <Box flexDirection="column" width={width} height={height}>
      <Line width={width} bold>
        {`run ${run.id} · ${list.cause === null ? '' : `cause ${list.cause} · `}${oneLine(run.candidate_ref)} vs ${oneLine(run.baseline_ref)}`}
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
        {status + filterNote + position}
      </Line>
      <Box height={1}>
        <Cell width={2}> </Cell>
        <Cell gap width={classW} dim>CLASS</Cell>
        <Cell gap width={idW} dim>REQUEST</Cell>
        <Cell gap width={lineW} dim>{"LINE".padStart(lineW - 1)}</Cell>
        <Cell gap width={tenantW} dim>TENANT</Cell>
        <Cell width={reasonsW} dim>REASONS</Cell>
      </Box>
      <Box flexDirection="column" height={listHeight}>
        {shown.length === 0 ? (
          <Text dimColor>{load.done ? 'no requests match' : 'no matching requests yet…'}</Text>
        ) : (
          shown.slice(top, top + listHeight).map((index, i) => {
            const e = load.entries[index]!
            const active = top + i === cursor
            const more = e.reasonCount > e.reasons.length ? ` (+${e.reasonCount - e.reasons.length})` : ''
            const noise = e.noiseCount > 0 ? ` ~${e.noiseCount} noise` : ''
            return (
              <Box key={index} height={1}>
                <Cell width={2} color="cyan">{active ? '❯ ' : '  '}</Cell>
                <Cell gap width={classW} color={CLASS_COLOUR[e.class]}>{CLASS_LABEL[e.class]}</Cell>
                <Cell gap width={idW} inverse={active}>{e.request_id}</Cell>
                <Cell gap width={lineW} dim>{String(e.line).padStart(lineW - 1)}</Cell>
                <Cell gap width={tenantW}>{e.tenant}</Cell>
                <Cell width={reasonsW}>{e.reasons.join('; ') + more + noise}</Cell>
              </Box>
            )
          })
        )}
      </Box>
      {prompt !== null ? (
        <Box height={1} width={width}>
          <Cell width={width}>
            <Text color="cyan" bold>
              /
            </Text>
            {tail(prompt, width - 40)}
            <Text inverse> </Text>
            <Text dimColor>{'  id, tenant, tool, reason · '}</Text>
            {PROMPT_KEYS.map(([k, a]) => `${k} ${a}`).join(' · ')}
          </Cell>
        </Box>
      ) : (
        <StatusLine width={width} keys={KEYS} />
      )}
    </Box>
  )
}
