import path from 'node:path'
import {ValidationError} from '../errors.js'
import type {Bundle} from './schema.js'
import {validateBundle} from './validate.js'

/**
 * Loads a bundle directory or throws a ValidationError listing every problem
 * (`file:path.to.field: message`); an unreadable directory throws an UnderstudyError.
 */
export async function loadBundle(dir: string): Promise<Bundle> {
  return (await loadBundleWithWarnings(dir)).bundle
}

/** loadBundle, with the warnings of a bundle that loads (see BundleValidation). */
export async function loadBundleWithWarnings(dir: string): Promise<{bundle: Bundle; warnings: string[]}> {
  const {bundle, problems, warnings} = await validateBundle(dir)
  if (bundle) return {bundle, warnings}
  const summary = problems.length > 1 ? `${dir}: ${problems.length} problems; bundle not loaded` : undefined
  throw new ValidationError(problems.length > 0 ? problems : [`${path.join(dir)}: invalid bundle`], summary)
}
