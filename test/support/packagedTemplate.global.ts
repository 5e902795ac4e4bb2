import { join } from 'node:path';
import { packagedTemplate } from '../../local/packagedTemplate.ts';

/**
 * The embedded stacks of the suite provision from the template `sls package --stage local`
 * writes (local/packagedTemplate.ts): packaged here once, before the test files start, so
 * they find it cached instead of each packaging it at once.
 */
export default async function setup(): Promise<void> {
  await packagedTemplate({ root: join(import.meta.dirname, '../..'), stage: 'local', region: 'us-east-1' });
}
