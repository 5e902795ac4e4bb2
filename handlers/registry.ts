import { examples } from '../examples/index.ts';
import { JobRegistry } from '../lib/registry.ts';

/**
 * The jobs this deployment runs. Jobs are bundled with the handlers: add yours here
 * (and deploy) to make them runnable.
 */
export const registry = new JobRegistry([...examples]);
