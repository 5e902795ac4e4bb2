'use strict';
/**
 * The jobs' schedules as CloudFormation, for serverless.yml:
 *
 *   resources:
 *     - ${file(statemachines/schedules.cjs):resources}
 *
 * Each schedule a job declares (defineJob(..., { schedules: [...] })) becomes an
 * EventBridge Scheduler schedule whose templated target starts an execution of
 * the run state machine. Its input carries a client token naming the tick
 * (<aws.scheduler.scheduled-time>), from which StartRun derives the run id: a
 * tick delivered twice (Scheduler is at-least-once) starts one run.
 *
 * The jobs are TypeScript, bundled with the handlers; this file loads the same
 * registry the handlers use (through tsx), so what is deployed is what runs.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = join(__dirname, '..');
const REGISTRY = pathToFileURL(join(ROOT, 'examples', 'registry.ts')).href;
/** AWS::Scheduler::Schedule names are at most 64 characters. */
const MAX_NAME = 64;

function pascal(text) {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/** CloudFormation for these schedules on this stage (no resources at all when there are none). */
function scheduleResources(schedules, { service, stage }) {
  const active = schedules.filter((s) => !s.stages || s.stages.includes(stage));
  if (active.length === 0) return { Resources: {} };
  const Resources = {
    RunSchedulerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'scheduler.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
        Policies: [
          {
            PolicyName: 'startRuns',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'StartRuns',
                  Effect: 'Allow',
                  Action: ['states:StartExecution'],
                  Resource: [{ Ref: 'RunStateMachine' }],
                },
              ],
            },
          },
        ],
      },
    },
  };
  for (const schedule of active) {
    const logicalId = `Schedule${pascal(schedule.job)}${pascal(schedule.name)}`;
    if (Resources[logicalId])
      throw new Error(
        `schedules: ${schedule.job}/${schedule.name} collides with another schedule's logical id ${logicalId}`,
      );
    const name = `${service}-${stage}-${schedule.job}-${schedule.name}`;
    const input = {
      job: schedule.job,
      input: schedule.input ?? {},
      clientToken: `schedule/${schedule.job}/${schedule.name}/<aws.scheduler.scheduled-time>`,
    };
    Resources[logicalId] = {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        // Longer names are left to CloudFormation to generate.
        ...(name.length <= MAX_NAME ? { Name: name } : {}),
        Description: schedule.description ?? `lambdag: run job '${schedule.job}' on ${schedule.expression}`,
        ScheduleExpression: schedule.expression,
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: schedule.enabled === false ? 'DISABLED' : 'ENABLED',
        Target: {
          Arn: { Ref: 'RunStateMachine' },
          RoleArn: { 'Fn::GetAtt': ['RunSchedulerRole', 'Arn'] },
          Input: JSON.stringify(input),
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
        },
      },
    };
  }
  return { Resources };
}

/** Serverless variable resolver entry point: `${file(statemachines/schedules.cjs):resources}`. */
async function resources({ resolveVariable }) {
  const [service, stage] = await Promise.all([resolveVariable('self:service'), resolveVariable('sls:stage')]);
  return scheduleResources(loadSchedules(), { service, stage });
}

/** The registry's schedules, read in a child Node with tsx (the jobs are ESM TypeScript). */
function loadSchedules() {
  const script = `const { registry } = await import(${JSON.stringify(REGISTRY)});
process.stdout.write(JSON.stringify(registry.schedules().map(({ parsed, ...schedule }) => schedule)));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out);
}

module.exports = { resources, scheduleResources };
