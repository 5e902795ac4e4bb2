import type { Server } from 'node:http';
import type { Log } from '../lib/log.ts';
import { startQueryApiServer } from './cloudformation/queryProtocol.ts';
import { ApiServiceError, startJsonApiServer } from './jsonApiServer.ts';

/**
 * The account-level calls deploy tools make besides CloudFormation: STS GetCallerIdentity
 * (who is deploying, into which account) and ECR DescribeRepositories (`sls remove` looks for
 * the service's image repository; the embedded stack has none).
 */
export async function startAccountApis(
  accountId: string,
  log: Log,
): Promise<{ sts: { server: Server; endpoint: string }; ecr: { server: Server; endpoint: string } }> {
  const sts = await startQueryApiServer({
    name: 'STS',
    xmlns: 'https://sts.amazonaws.com/doc/2011-06-15/',
    log,
    operations: {
      // The stack's admin key is the account's root, as LocalStack's test key is.
      GetCallerIdentity: () => ({
        UserId: accountId,
        Account: accountId,
        Arn: `arn:aws:iam::${accountId}:root`,
      }),
    },
  });
  const ecr = await startJsonApiServer({
    name: 'ECR',
    targetPrefix: 'AmazonEC2ContainerRegistry_V20150921.',
    contentType: 'application/x-amz-json-1.1',
    log,
    operations: {
      DescribeRepositories: (body) => {
        const names = (body.repositoryNames ?? []) as string[];
        if (names.length > 0)
          throw new ApiServiceError(
            'RepositoryNotFoundException',
            `The repository with name '${names[0]}' does not exist in the registry with id '${accountId}'`,
          );
        return { repositories: [] };
      },
    },
  });
  return { sts, ecr };
}
