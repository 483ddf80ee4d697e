/**
 * Finds where a byte sequence stops being valid UTF-8. TextDecoder (fatal) says only that it failed;
 * a user fixing a file needs the offset. Same rules as the decoder: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequences.
 */
export function firstInvalidUtf8(bytes: Uint8Array): {offset: number; reason: string} | null {
  const n = bytes.length
  let i = 0
  while (i < n) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      if (b === 0xe0) lo = 0xa0 // overlong
      if (b === 0xed) hi = 0x9f // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      if (b === 0xf0) lo = 0x90 // overlong
      if (b === 0xf4) hi = 0x8f // above U+10FFFF
    } else {
      const reason = b >= 0x80 && b <= 0xbf ? 'unexpected continuation byte' : 'byte never valid in UTF-8'
      return {offset: i, reason: `${reason} ${hex(b)}`}
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return {offset: i, reason: `sequence starting ${hex(b)} cut short by the end of the line`}
      const c = bytes[i + k]!
      const min = k === 1 ? lo : 0x80
      const max = k === 1 ? hi : 0xbf
      if (c < min || c > max) return {offset: i, reason: `bad sequence ${hexRun(bytes, i, i + k + 1)}`}
    }
    i += need + 1
  }
  return null
}

function hex(b: number): string {
  return '0x' + b.toString(16).toUpperCase().padStart(2, '0')
}

function hexRun(bytes: Uint8Array, from: number, to: number): string {
  return Array.from(bytes.subarray(from, to), hex).join(' ')
}
