// The runtime inside one local Lambda execution environment (a worker thread): it imports
// the handler from the function's unzipped bundle once, as a cold start does, then runs one
// invocation at a time. Plain JavaScript: it loads the deployed bundle, not the project's
// TypeScript sources.

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { handlerFile, exportName } = workerData;
const handlerReady = import(pathToFileURL(handlerFile).href).then((module) => {
  const handler = module[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${handlerFile} exports no function ${exportName}`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  return handler;
});

parentPort.on('message', async ({ id, event, context, deadline, traceId }) => {
  // Lambda sets the invocation's trace header here; the AWS SDK sends it with each request.
  if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
  else delete process.env._X_AMZN_TRACE_ID;
  try {
    const handler = await handlerReady;
    const result = await handler(event, {
      ...context,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    });
    parentPort.postMessage({ id, result });
  } catch (error) {
    const { name = 'Error', message = String(error), stack } = error ?? {};
    parentPort.postMessage({ id, error: { name, message, stack } });
  }
});
