/**
 * The one colour rule, for every command and for Ink: `NO_COLOR` set to anything but the empty
 * string means no colour (no-color.org); otherwise `FORCE_COLOR` decides when set (`0` or `false`
 * off, any other value on, even when the output is not a terminal); otherwise colour only on a
 * terminal. NO_COLOR wins over FORCE_COLOR: someone who asked for no colour gets none.
 */
export function colourWanted(stream: {isTTY?: boolean}, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false'
  return stream.isTTY === true
}
