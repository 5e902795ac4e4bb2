import { Command, Option } from 'commander';
import { LambdagError } from '../lib/errors.ts';
import { cancelCommand } from './commands/cancel.ts';
import { concurrencyCommand, concurrencySetCommand } from './commands/concurrency.ts';
import { logsCommand, runsCommand, statusCommand } from './commands/inspect.ts';
import { localDownCommand, localUpCommand } from './commands/local.ts';
import { dlqListCommand, dlqRedriveCommand, queuesCommand } from './commands/queues.ts';
import { rerunCommand } from './commands/rerun.ts';
import { runCommand } from './commands/run.ts';
import { simulateCommand } from './commands/simulate.ts';
import { uiCommand } from './commands/ui.ts';
import { red } from './format.ts';

/** Exit codes: 0 run succeeded / command done, 1 run failed or canceled, 2 bad input, 3 anything else. */
const program = new Command('lambdag')
  .description(
    'Run DAG jobs on AWS serverless: SQS + Lambda steps, Step Functions fan-in, ECS for long steps.',
  )
  .showHelpAfterError();

const stageOption = () =>
  new Option('--stage <stage>', 'local (the embedded stack) or a deployed stage').default('local');
const dirOption = () =>
  new Option('--dir <dir>', 'local stack state folder (default .lambdag, or $LAMBDAG_HOME)');

/** Where a command reaches lambdag: the embedded stack, or a deployed stage by its stack outputs. */
function targetOptions(command: Command): Command {
  return command
    .addOption(stageOption())
    .addOption(dirOption())
    .addOption(
      new Option(
        '--endpoint <url>',
        'one AWS endpoint for every service (LocalStack: http://localhost:4566)',
      ),
    )
    .addOption(new Option('--region <region>', 'AWS region (default: $AWS_REGION)'))
    .addOption(
      new Option('--stack-name <name>', 'CloudFormation stack of the stage (default lambdag-<stage>)'),
    );
}

targetOptions(program.command('run'))
  .description('start a run of JOB')
  .argument('<job>', 'job name')
  .option('--input <json>', 'run input as JSON')
  .option('--input-file <file>', 'run input from a JSON file')
  .option('--client-token <token>', 'idempotency token: starting twice with one token yields one run')
  .option('--priority <n>', 'run priority, 0 (routine, default) to 9; from 5 up its steps use the high queue')
  .option('--wait', 'wait for the run to end, showing progress; exit code is the outcome')
  .option('--json', 'print a JSON object instead of text')
  .action(async (job: string, options) => exit(await runCommand(job, options)));

targetOptions(program.command('status'))
  .description('show a run and its steps')
  .argument('<runId>')
  .option('--json', 'print JSON')
  .option('--items', "list map steps' items one by one (default: one row per map, with counts)")
  .action(async (runId: string, options) => exit(await statusCommand(runId, options)));

targetOptions(program.command('logs'))
  .description("show a run's events, then what its steps wrote with ctx.log")
  .argument('<runId>')
  .option('--step <key>', "only this step's events and log lines")
  .option('--follow', 'keep printing events until the run ends')
  .option('--items', "include map items' start and success events (default: left out)")
  .action(async (runId: string, options) => exit(await logsCommand(runId, options)));

targetOptions(program.command('cancel'))
  .description('cancel a run: steps not yet started never start, running steps are aborted')
  .argument('<runId>')
  .option('--reason <text>', 'why (kept on the run and in its events)')
  .option('--wait', 'wait for the run to end; exit code is the outcome (1 when canceled)')
  .option('--json', 'print JSON')
  .action(async (runId: string, options) => exit(await cancelCommand(runId, options)));

targetOptions(program.command('rerun'))
  .description("start a new run of RUN's job and input that reuses the outputs of its succeeded steps")
  .argument('<runId>')
  .option('--from-failure', 'run the steps that did not succeed, and everything downstream of them')
  .option('--steps <keys>', 'run these steps (comma-separated), and everything downstream of them')
  .option('--wait', 'wait for the new run to end, showing progress; exit code is the outcome')
  .option('--json', 'print a JSON object instead of text')
  .action(async (runId: string, options) => exit(await rerunCommand(runId, options)));

targetOptions(program.command('runs'))
  .description('list recent runs')
  .option('--job <job>', 'only runs of this job')
  .option('--limit <n>', 'how many', '20')
  .option('--json', 'print JSON')
  .action(async (options) => exit(await runsCommand(options)));

targetOptions(program.command('queues'))
  .description('depth, in flight, delayed and dead letters of every step queue')
  .option('--json', 'print JSON')
  .action(async (options) => exit(await queuesCommand(options)));

const concurrency = program
  .command('concurrency')
  .description('keyed concurrency limits (docs/concurrency.md)');
targetOptions(concurrency.command('list', { isDefault: true }))
  .description('every concurrency key: its limit, the attempts holding its slots and those waiting')
  .option('--json', 'print JSON')
  .action(async (options) => exit(await concurrencyCommand(options)));
targetOptions(concurrency.command('set <key> <limit>'))
  .description("set a key's limit, in force from the next attempt that asks (no deploy)")
  .option('--json', 'print JSON')
  .action(async (key: string, limit: string, options) =>
    exit(await concurrencySetCommand(key, limit, options)),
  );

const dlq = program.command('dlq').description("the step queues' dead-letter queues");
targetOptions(dlq.command('list'))
  .description('show dead letters (they stay in the DLQ)')
  .option('--queue <name>', 'step queue', 'default')
  .option('--max <n>', 'how many', '10')
  .option('--json', 'print JSON')
  .action(async (options) => exit(await dlqListCommand(options)));
targetOptions(dlq.command('redrive'))
  .description('move dead letters back to their step queue')
  .option('--queue <name>', 'step queue', 'default')
  .option('--max <n>', 'at most this many')
  .option('--json', 'print JSON')
  .action(async (options) => exit(await dlqRedriveCommand(options)));

targetOptions(program.command('ui'))
  .description('serve the web UI: runs, their graphs, timelines, events and actions')
  .option('--host <host>', 'address to listen on (only this machine by default)', '127.0.0.1')
  .option('--port <port>', 'port (0: a free one)', '0')
  .action(async (options) => exit(await uiCommand(options)));

program
  .command('simulate')
  .description(
    'run random DAGs on a fresh local stack while injecting faults, then audit exactly-once (exit 0 when clean)',
  )
  .option('--runs <n>', 'how many runs', '20')
  .option('--min-steps <n>', 'fewest steps per run', '10')
  .option('--max-steps <n>', 'most steps per run', '50')
  .option('--seed <n>', 'seed of the DAGs and the faults (printed, to replay a failure)')
  .option(
    '--faults <spec>',
    'all, none, or kind=rate,... (duplicateSends, crashBeforeRecord, crashAfterRecord, crashBeforeDelete, throttling, stepErrors, slowSteps)',
    'all',
  )
  .option('--parallel <n>', 'runs in flight at once', '10')
  .option('--concurrency <n>', 'worker concurrency per step queue')
  .option('--visibility <seconds>', "the step queues' visibility timeout (slow steps outlast it)", '2')
  .option('--timeout <seconds>', 'give up on runs still going after this long (they count as stuck)', '600')
  .option('--map-rate <rate>', 'chance a step is a map stage (list, map, collect)', '0.1')
  .option('--max-items <n>', "most items of a map stage's map", '20')
  .option(
    '--limit-rate <rate>',
    'chance a plain step has a keyed concurrency limit (2 keys of 4 slots; 0: none)',
    '0.1',
  )
  .option('--json', 'print the report as JSON')
  .option('--verbose', "show the workers' warnings and errors as the faults happen")
  .action(async (options) => exit(await simulateCommand(options)));

const local = program
  .command('local')
  .description('the embedded local AWS stack (no Docker, no cloud account)');
local
  .command('up')
  .description('start a long-lived local stack that later commands use')
  .addOption(dirOption())
  .option(
    '--empty',
    'an empty account for `sls deploy --stage local` instead (docs/deploy.md): CloudFormation, Lambda and the emulators on one edge port, no lambdag system of its own',
  )
  .option('--port <port>', 'with --empty: the edge port (default 4566, as LocalStack; 0 for a free one)')
  .action(async (options) => exit(await localUpCommand(options)));
local
  .command('down')
  .description('stop the running local stack')
  .addOption(dirOption())
  .action(async (options) => exit(await localDownCommand(options)));

function exit(code: number): void {
  process.exitCode = code;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof LambdagError) {
    process.stderr.write(`${red('error')}: ${error.message} [${error.code}]\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(
      `${red('error')}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 3;
  }
}
