'use strict';
/**
 * Loads a state machine definition for serverless.yml:
 *
 *   definition: ${file(statemachines/definition.cjs):run}
 *
 * The ASL files use CloudFormation DefinitionSubstitutions-style placeholders,
 * `"Resource": "${StartRunFunctionArn}"`, so the same file runs unchanged in the
 * embedded local stack (which substitutes real ARNs itself). Serverless would try
 * to resolve `${...}` as one of its own variables, so this file reads the JSON and
 * turns each `${<Name>FunctionArn}` into `{ "Fn::GetAtt": ["<Name>LambdaFunction", "Arn"] }`,
 * the logical id Serverless gives the function `<name>`. serverless-step-functions
 * then compiles those into a `Fn::Sub` DefinitionString and its IAM role.
 *
 * Anything else that looks like a placeholder is an error, as is a placeholder
 * naming a function that serverless.yml does not declare.
 */
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const FUNCTION_ARN = /^\$\{([A-Z][A-Za-z0-9]*)FunctionArn\}$/;

/** `StartRun` → the Serverless function key `startRun` and its logical id `StartRunLambdaFunction`. */
function functionOf(name) {
  return { key: name[0].toLowerCase() + name.slice(1), logicalId: `${name}LambdaFunction` };
}

/**
 * Returns a copy of `value` with every placeholder replaced by a Fn::GetAtt.
 * `used` collects the function keys referenced.
 */
function substitute(value, used = new Set(), where = '$') {
  if (typeof value === 'string') {
    const match = FUNCTION_ARN.exec(value);
    if (match) {
      const fn = functionOf(match[1]);
      used.add(fn.key);
      return { 'Fn::GetAtt': [fn.logicalId, 'Arn'] };
    }
    if (value.includes('${')) {
      throw new Error(
        `statemachines: unsupported placeholder at ${where}: "${value}" (only a whole "\${<Name>FunctionArn}" is substituted)`,
      );
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, used, `${where}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, substitute(inner, used, `${where}.${key}`)]),
    );
  }
  return value;
}

/** Reads `statemachines/<file>` and substitutes its placeholders. */
function load(file) {
  const used = new Set();
  const definition = substitute(JSON.parse(readFileSync(join(__dirname, file), 'utf8')), used);
  return { definition, used };
}

/** A Serverless variable resolver for one ASL file that checks the functions it names exist. */
function resolver(file) {
  return async ({ resolveConfigurationProperty }) => {
    const { definition, used } = load(file);
    const functions = (await resolveConfigurationProperty(['functions'])) || {};
    const missing = [...used].filter((key) => !(key in functions));
    if (missing.length > 0) {
      throw new Error(
        `statemachines/${file} invokes function(s) not declared in serverless.yml: ${missing.join(', ')}`,
      );
    }
    return definition;
  };
}

module.exports = { run: resolver('run.asl.json'), load, substitute };
