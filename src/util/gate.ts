/**
 * What a `--gate` command's judgement says at the end of a run (src/cli/run-command.ts prints it):
 * whether it passed, the lines explaining a failure, and the line confirming a pass.
 */
export type GateVerdict = {passed: boolean; failures: string[]; passedLine: string}
