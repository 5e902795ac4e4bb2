import { JobRegistry } from '../lib/job/registry.ts';
import { examples } from './index.ts';

/**
 * The jobs this deployment runs. Jobs are bundled with the handlers: add yours here
 * (and deploy) to make them runnable.
 */
export const registry = new JobRegistry([...examples]);
