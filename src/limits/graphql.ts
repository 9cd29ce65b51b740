// Limits on the GraphQL documents the gateway will run, as README.md's Security section lists them.
// graphql-armor's defaults (depth 6, aliases 15, directives 50, tokens 1000, cost 5000) were the
// start; depth and cost are raised just enough for the queries the README, the console and the
// tests send: a page of users with their sessions is 7 deep, and in graphql-armor's cost model a
// literal `first: N` multiplies the cost of its selection N times (compounding at each nested list):
// a full page of 500 users with 5 sessions each costs about 198,000, while 500 users with 50
// sessions each (2.7 million) or 50 users with 500 each (2.2 million) are refused.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, type ASTVisitor, type StringValueNode, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { costWithVariablesPlugin } from './cost.js';

export const graphqlLimits = {
  maxDepth: 8,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 1000,
  maxCost: 250_000,
} as const;

/** A refused document is a validation error with a stable code, never a thrown exception. */
function reportTo(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(
    new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    }),
  );
}

const reject = { propagateOnRejection: false, onReject: [reportTo] };

/**
 * The Yoga plugin; `fieldSuggestions: false` hides "Did you mean …?" from error messages. The cost
 * is checked twice: by graphql-armor at validation (literal `first` values), and again before
 * execution with the variables, argument defaults and default page sizes (src/limits/cost.ts).
 */
export function requestLimitsPlugin(options: { fieldSuggestions: boolean }): Plugin {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: graphqlLimits.maxDepth, ...reject },
    maxAliases: { n: graphqlLimits.maxAliases, ...reject },
    maxDirectives: { n: graphqlLimits.maxDirectives, ...reject },
    costLimit: { maxCost: graphqlLimits.maxCost, ...reject },
    // Counted while parsing: a refusal is a parse error (GRAPHQL_PARSE_FAILED).
    maxTokens: { n: graphqlLimits.maxTokens },
    blockFieldSuggestion: { enabled: !options.fieldSuggestions },
  });
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor as Plugin);
      addPlugin(costWithVariablesPlugin(graphqlLimits.maxCost));
    },
  };
}

/** Whether any string in a JSON value holds a NUL; iterative, so deep nesting cannot overflow the stack. */
function holdsNul(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return true;
    } else if (next && typeof next === 'object') {
      for (const [key, inner] of Object.entries(next)) {
        if (key.includes('\u0000')) return true;
        stack.push(inner);
      }
    }
  }
  return false;
}

/**
 * PostgreSQL text cannot hold the NUL character: a document or variables with one are refused up
 * front, as bad input, instead of failing in the database.
 */
export const refuseNulCharacters: Plugin = {
  // String literals of the document (a "\\u0000" escape becomes a NUL only once parsed).
  onValidate({ addValidationRule }) {
    addValidationRule(
      (context: ValidationContext): ASTVisitor => ({
        StringValue(node: StringValueNode) {
          if (node.value.includes('\u0000')) {
            context.reportError(
              new GraphQLError('Strings may not contain the NUL character (\\u0000).', {
                nodes: [node],
                extensions: { code: 'BAD_USER_INPUT' },
              }),
            );
          }
        },
      }),
    );
  },
  onParams({ params, setResult }) {
    if (holdsNul(params.query) || holdsNul(params.variables) || holdsNul(params.operationName)) {
      setResult({
        errors: [
          new GraphQLError('Strings may not contain the NUL character (\\u0000).', {
            extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
          }),
        ],
      });
    }
  },
};
