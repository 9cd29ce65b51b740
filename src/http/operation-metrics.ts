// A Yoga plugin: every GraphQL operation counted and timed in the metrics of src/metrics.ts.
import { getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import * as metrics from '../metrics.js';

type Result = { errors?: readonly GraphQLError[] } & Record<string, unknown>;

function singleResult(result: unknown): Result | null {
  if (!result || typeof result !== 'object' || Array.isArray(result) || Symbol.asyncIterator in result) return null;
  return result as Result;
}

interface Timing {
  start: number;
  operation?: string;
  type?: string;
}

/**
 * Counts and times every GraphQL operation by name, type and outcome. Requests that never reach
 * execution (unparsable, invalid) count as operation "(invalid)".
 */
export function useOperationMetrics(): Plugin {
  const timings = new WeakMap<Request, Timing>();
  return {
    onRequestParse({ request }) {
      timings.set(request, { start: performance.now() });
    },
    onExecute({ args }) {
      const timing = timings.get(args.contextValue.request);
      if (!timing) return;
      const operation = getOperationAST(args.document, args.operationName);
      timing.operation = metrics.operationLabel(operation?.name?.value);
      timing.type = operation?.operation ?? 'unknown';
    },
    onResultProcess({ request, result }) {
      const timing = timings.get(request);
      const single = singleResult(result);
      if (!timing || !single) return;
      timings.delete(request);
      const errors = single.errors ?? [];
      const operation = timing.operation ?? '(invalid)';
      const labels = { operation, type: timing.type ?? 'unknown', outcome: errors.length ? 'error' : 'success' };
      metrics.graphqlOperations.inc(labels);
      metrics.graphqlOperationDuration.observe(labels, (performance.now() - timing.start) / 1000);
      for (const error of errors) {
        metrics.graphqlErrors.inc({ operation, code: String(error.extensions?.code ?? 'UNKNOWN') });
      }
    },
  };
}
