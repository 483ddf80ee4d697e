import {Text as InkText, type TextProps} from 'ink'
import type React from 'react'
import {createContext, useContext} from 'react'

/**
 * The colour rule (src/cli/colour.ts) handed to Ink. Ink colours through chalk, which decides from
 * FORCE_COLOR and the stream alone and ignores NO_COLOR; our screens render `Text` from here
 * instead, under a ColourContext provider holding the rule's answer, and it drops foreground and
 * background colours when the answer is no. Styles that are not colour (bold, dim, inverse for the
 * selection) stay.
 */
export const ColourContext = createContext(true)

export function Text(props: TextProps): React.JSX.Element {
  const colour = useContext(ColourContext)
  return colour ? <InkText {...props} /> : <InkText {...props} color={undefined} backgroundColor={undefined} />
}
