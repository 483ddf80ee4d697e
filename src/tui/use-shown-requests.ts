import {useMemo, useRef} from 'react'
import {IncrementalFilter} from './entries.js'
import type {LoadState} from './loader.js'
import {orderRows} from './request-order.js'
import type {ListState} from './requests-screen.js'

/**
 * The requests the list shows, in the order it shows them (indexes into `load.entries`): the class
 * tab, the cause and the text filter applied, then the order. The list and the request view's
 * next/previous keys both walk this one array, so `n` opens the row below the one left.
 */
export function useShownRequests(load: LoadState, list: ListState): readonly number[] {
  const filter = useRef(new IncrementalFilter())
  const filtered = filter.current.update(load.entries, list.tab, list.needle.trim(), list.cause)
  // The filter's array is reused and grows while the run loads: its length says when it changed.
  const n = filtered.length
  // biome-ignore lint/correctness/useExhaustiveDependencies: `filtered` is the same array object across renders; `n` and the filter state say when its content changed
  return useMemo(() => orderRows(load.entries, filtered, list.order), [load.entries, n, list.tab, list.needle, list.cause, list.order])
}
