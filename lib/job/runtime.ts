/** Where a step runs. */
export const Runtime = { LAMBDA: 'lambda', ECS: 'ecs' } as const;
export type Runtime = (typeof Runtime)[keyof typeof Runtime];

/** What a Lambda step that runs out of Lambda's time does: fail, or move to ECS. */
export const OnLambdaTimeout = { FAIL: 'fail', ECS: 'ecs' } as const;
export type OnLambdaTimeout = (typeof OnLambdaTimeout)[keyof typeof OnLambdaTimeout];
