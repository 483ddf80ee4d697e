import {renderParaphrase} from '../../../src/model/scripted/skill-answer.js'

/**
 * The coding skill's final answers. Every kind has three paraphrases that state the same facts
 * (paths, branch, pull-request number and url, reason codes, test counts); temperature 0 always
 * uses the first, a sampled answer picks one by hash(seed, conversation).
 */
export type CodingAnswer =
  | 'pr_opened'
  | 'pr_awaiting_approval'
  | 'committed_to_default'
  | 'tests_failed_no_pr'
  | 'write_denied'
  | 'denied'
  | 'not_found_in_code'
  | 'nothing_to_change'
  | 'file_not_found'
  | 'code_answer'
  | 'tests_passed'
  | 'tests_failed'
  | 'merged'
  | 'merge_awaiting_approval'
  | 'branch_deleted'
  | 'delete_awaiting_approval'
  | 'not_found'
  | 'tool_unavailable'
  | 'invalid_request'
  | 'write_unknown'
  | 'budget'
  | 'ask_pr_number'
  | 'ask_branch'
  | 'ask_details'

export type CodingFacts = Record<string, string | number>

const TEMPLATES: Record<CodingAnswer, [string, string, string]> = {
  pr_opened: [
    'Opened {draft}pull request #{number} ({url}) from `{branch}`: {summary}.',
    'Pull request #{number} is open as a {state} ({url}); branch `{branch}` has {summary}.',
    'Done: {summary}, on branch `{branch}`, in {draft}pull request #{number} ({url}).',
  ],
  pr_awaiting_approval: [
    'I pushed {summary} to `{branch}`; opening the pull request needs approval ({reason}), so it is waiting for a reviewer.',
    'Branch `{branch}` has {summary}. The pull request is waiting for approval ({reason}).',
    'The change ({summary}) is on `{branch}`; a reviewer must approve the pull request first ({reason}).',
  ],
  committed_to_default: [
    'I committed {summary} directly to `{branch}`.',
    '`{branch}` now has {summary}.',
    'Committed to `{branch}`: {summary}.',
  ],
  tests_failed_no_pr: [
    'I pushed {summary} to `{branch}`, but {failed} test(s) fail ({failures}), so I did not open a pull request.',
    'Branch `{branch}` has {summary}; the tests fail ({failed}: {failures}), so there is no pull request yet.',
    'Tests fail on `{branch}` after {summary} ({failed}: {failures}); I held back the pull request.',
  ],
  write_denied: [
    'I could not change `{path}`: the write was refused ({reason}). That file needs a human to change it.',
    'Changing `{path}` is not allowed for me ({reason}); please ask someone with access to make this change.',
    'The write to `{path}` was blocked ({reason}), so I made no change there.',
  ],
  denied: [
    'I am not allowed to do that ({reason}).',
    'That action is not permitted for me here ({reason}).',
    'Sorry, I cannot do that ({reason}).',
  ],
  not_found_in_code: [
    'I could not find `{symbol}` anywhere in the repository, so I changed nothing.',
    'There is no `{symbol}` in the repository; nothing was changed.',
    'A search for `{symbol}` found nothing, so I made no changes.',
  ],
  nothing_to_change: [
    '`{from}` does not appear in {paths}, so I changed nothing.',
    'I found no `{from}` in {paths}; no change was needed.',
    '{paths} has no `{from}` to change, so I left it as it is.',
  ],
  file_not_found: [
    'There is no file `{path}` in the repository.',
    'I could not find `{path}`; please check the path.',
    '`{path}` does not exist in the repository.',
  ],
  code_answer: [
    '`{symbol}` is in `{path}` (line {line}): {explanation}',
    'You will find `{symbol}` at `{path}`, line {line}. {explanation}',
    '`{path}` line {line} defines `{symbol}`: {explanation}',
  ],
  tests_passed: [
    'Tests {target}: {passed} passed, none failed.',
    'All {passed} tests {target} pass.',
    'The test run {target} is green: {passed} passed.',
  ],
  tests_failed: [
    'Tests {target}: {passed} passed, {failed} failed ({failures}).',
    '{failed} test(s) {target} fail ({failures}); {passed} pass.',
    'The test run {target} is red: {failed} failed ({failures}), {passed} passed.',
  ],
  merged: [
    'Merged pull request #{number}.',
    'Pull request #{number} is merged.',
    'Done: #{number} has been merged.',
  ],
  merge_awaiting_approval: [
    'Merging pull request #{number} needs approval ({reason}); it is waiting for a maintainer.',
    'Pull request #{number} will be merged once a maintainer approves ({reason}).',
    'The merge of #{number} is waiting for approval ({reason}).',
  ],
  branch_deleted: [
    'Deleted branch `{branch}`.',
    'Branch `{branch}` is gone.',
    'Done: `{branch}` has been deleted.',
  ],
  delete_awaiting_approval: [
    'Deleting `{branch}` needs approval ({reason}); it is waiting for a maintainer.',
    'Branch `{branch}` will be deleted once a maintainer approves ({reason}).',
    'The deletion of `{branch}` is waiting for approval ({reason}).',
  ],
  not_found: [
    'I could not find {what}.',
    '{what} does not exist.',
    'There is no {what}.',
  ],
  tool_unavailable: [
    'I could not reach {tool} after retrying, so I stopped{progress}.',
    '{tool} kept failing, so I stopped{progress}. Please try again later.',
    'I stopped because {tool} is not answering{progress}.',
  ],
  invalid_request: [
    'My {tool} call was rejected ({detail}), so I stopped.',
    '{tool} did not accept my request ({detail}); I stopped there.',
    'I stopped: the {tool} call was invalid ({detail}).',
  ],
  write_unknown: [
    'I am not sure whether {tool} went through, so I stopped rather than repeat it; please check `{branch}`.',
    '{tool} may or may not have completed; please check `{branch}` before anyone retries it.',
    'To avoid doing it twice I did not retry {tool}; please check `{branch}`.',
  ],
  budget: [
    'I ran out of my step budget before finishing.',
    'I hit my budget before the task was done.',
    'The task needs more steps than I am allowed.',
  ],
  ask_pr_number: [
    'Which pull request do you mean? Please give its number (like #123).',
    'Please tell me the pull request number, for example #123.',
    'I need the pull request number (for example #123).',
  ],
  ask_branch: [
    'Which branch should I delete? Please name it.',
    'Please tell me the name of the branch.',
    'I need the branch name to do that.',
  ],
  ask_details: [
    'Which file or function should I look at? Please quote it in backticks, for example `src/app.ts`.',
    'Please name the file or the code you mean, in backticks.',
    'Tell me which file or symbol this is about (in backticks) and what to change.',
  ],
}

export function codingParaphraseCount(kind: CodingAnswer): number {
  return TEMPLATES[kind].length
}

export function renderCodingAnswer(kind: CodingAnswer, facts: CodingFacts, variant: number): string {
  return renderParaphrase(TEMPLATES[kind], facts, variant)
}

export const SECRET_NOTE =
  ' I did not write the credential you pasted into the repository: the file reads it from {env} instead. Please rotate it, since it was shared in chat.'
