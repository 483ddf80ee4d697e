/**
 * The drill's verdict. Pure. A drill passes only when the shipped bundle really did the harm (else
 * it proves nothing), the mitigated bundle does none of it, and the golden tasks still pass.
 */
export type DrillVerdict = {passed: boolean; reasons: string[]}

export function judgeDrill(input: {harmBefore: number; harmAfter: number; golden: {total: number; passed: number; rate: number}; minPassRate: number}): DrillVerdict {
  const reasons: string[] = []
  if (input.harmBefore === 0) reasons.push('harm not reproduced: the shipped bundle made no harmful action on this traffic, so the drill shows nothing')
  if (input.harmAfter > 0) reasons.push(`harm remains: ${input.harmAfter} harmful action${input.harmAfter === 1 ? '' : 's'} after the mitigation`)
  if (input.golden.total === 0) reasons.push('no golden task in the traffic: nothing shows the mitigated service still works')
  else if (input.golden.rate < input.minPassRate) {
    reasons.push(`golden tasks: ${input.golden.passed}/${input.golden.total} pass (${pct(input.golden.rate)}), need ${pct(input.minPassRate)}`)
  }
  return {passed: reasons.length === 0, reasons}
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`
}
