#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader: no build step between a clone and `npx lambdag`.
import { register } from 'tsx/esm/api';

register();
// Before any AWS client exists: the SDK's Node-version notice must not open every command's stderr.
const { muteSdkNodeVersionWarning } = await import('../cli/sdkNodeWarning.ts');
muteSdkNodeVersionWarning();
await import('../cli/main.ts');
