import { bold, dim } from '../format.ts';
import { openTarget, type TargetOptions } from '../target.ts';
import { startUiServer } from '../ui/server.ts';

/** `lambdag ui`: serve the web UI for the target until interrupted. */
export async function uiCommand(options: TargetOptions & { host?: string; port?: string }): Promise<number> {
  const target = await openTarget(options);
  try {
    const server = await startUiServer(target, {
      ...(options.host ? { host: options.host } : {}),
      port: Number(options.port ?? 0),
    });
    process.stdout.write(`${bold('lambdag ui')} on ${target.description}: ${server.url}\n`);
    if (options.host && options.host !== '127.0.0.1' && options.host !== 'localhost') {
      process.stdout.write(
        `${dim(`reachable from other machines on ${options.host}; actions need the page's token`)}\n`,
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  } finally {
    await target.close();
  }
}
