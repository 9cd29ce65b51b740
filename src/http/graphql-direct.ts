// The direct GraphQL path: the common request to /graphql (a POST of a JSON body with a query
// operation) answered on Node's own request and response, without the Fetch-API objects, Yoga's
// request pipeline and its plugin hooks, which cost most of the CPU time of a page of users (issue
// 18). It takes only what it answers exactly as the Yoga path (./graphql.ts) would:
//   POST /graphql, Content-Type application/json (charset utf-8 or none), a declared Content-Length
//   of at most MAX_REQUEST_BODY_BYTES, no Transfer-Encoding, an Accept that Yoga answers with JSON.
// The admin key is checked here as there. Then, once the body is read, only a body of the plain
// shape {query, variables?, operationName?, extensions?} whose document Yoga's own parse and
// validate accept (remembered per query text, LRU), naming a query operation (not a mutation),
// with variables that coerce, no NUL character and a cost within the limit, runs here, compiled
// once per text and operation by graphql-jit; and only an answer without errors is written here.
// Anything else (bad JSON, an invalid or over-cost document, a mutation) is handed, with its body,
// to the Yoga path, which answers it as always: every refusal and error keeps its one writer. A
// result with errors goes there too, with the result: Yoga answers it (masking, codes, metrics)
// without running the query again, so a query is never executed twice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  getLocation,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  visit,
  type ASTNode,
  type DocumentNode,
  type ExecutionResult,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { pickClientAddress, type TrustProxy } from '../client-address.js';
import { graphqlLimits } from '../limits/graphql.js';
import { costInputsOf, costKey, operationCost, type CostInputs } from '../limits/cost.js';
import type { Logger } from '../logger.js';
import * as metrics from '../metrics.js';
import { MAX_REQUEST_BODY_BYTES } from './body.js';
import { refusalResponse, thrownErrorResponse } from './errors.js';
import { graphqlCorsHeaders, withGraphQLCorsFor } from './graphql-cors.js';
import type { DirectGraphQLSurface } from './graphql.js';
import { inNodeRequestScope, recordRequest, trustedProxies } from './request-scope.js';
import { headerOf, readBody } from './node-request.js';

const GRAPHQL_PATH = '/graphql';
const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;
/** The media types of Yoga's answer of a single result, in its order of preference. */
const RESULT_TYPES = ['application/graphql-response+json', 'application/json'];
/** Distinct query texts whose checked document is remembered. */
const DOCUMENT_CACHE_SIZE = 1000;
/** Longer query texts go to Yoga (within the token limit, a text this long is mostly whitespace or comments). */
const MAX_CACHED_QUERY_LENGTH = 16 * 1024;
/** Operation names remembered per query text (with or without an operation of that name). */
const MAX_OPERATIONS_KEPT = 16;
const PARAMS = new Set(['query', 'variables', 'operationName', 'extensions']);

/** Answers `req` if the direct GraphQL path takes it, and says whether it did. */
export type DirectGraphQL = (req: IncomingMessage, res: ServerResponse) => boolean;

/** A query text Yoga would run: its document and the operation of each name asked for. */
interface CheckedQuery {
  document: DocumentNode;
  operations: Map<string | null, CompiledOperation | null>;
  /** The cost inputs of its operations, once one is compiled. */
  costInputs?: Map<OperationDefinitionNode, CostInputs>;
  /** Its operations' costs by costKey of the variables (at most MAX_COSTS_KEPT for the whole document). */
  costs: Map<string, number>;
}

/** A query operation of a checked document, compiled by graphql-jit. */
interface CompiledOperation {
  operation: OperationDefinitionNode;
  compiled: CompiledQuery;
  costInputs: CostInputs;
}

/**
 * Costs remembered per query text (distinct page sizes, @skip/@include values: see costKey): with
 * keys of at most MAX_COST_KEY_LENGTH ASCII characters, about 20 MB at worst over DOCUMENT_CACHE_SIZE texts.
 */
const MAX_COSTS_KEPT = 64;

interface Params {
  query: string;
  variables: Record<string, unknown>;
  operationName: string | null;
}

export function createDirectGraphQL(deps: { surface: DirectGraphQLSurface; logger: Logger; trustProxy: boolean | TrustProxy | undefined }): DirectGraphQL {
  const { surface, logger } = deps;
  const { schema, corsOrigins } = surface;
  const trust = trustedProxies(deps.trustProxy);
  // The CORS headers of a request without an Origin (most API clients): always the same.
  const noOriginCors = graphqlCorsHeaders(null, corsOrigins);
  // Query text → its checked document, or null when Yoga refuses it (answered there, with its error).
  const documents = new Map<string, CheckedQuery | null>();

  function checkedQuery(query: string): CheckedQuery | null {
    // The cache holds at most DOCUMENT_CACHE_SIZE × MAX_CACHED_QUERY_LENGTH characters of text.
    if (query.length > MAX_CACHED_QUERY_LENGTH) return null;
    const known = documents.get(query);
    if (known !== undefined) {
      // Most recently used last: Map keeps insertion order.
      documents.delete(query);
      documents.set(query, known);
      return known;
    }
    const document = surface.checkedDocument(query);
    const checked = document ? { document, operations: new Map(), costs: new Map() } : null;
    if (documents.size >= DOCUMENT_CACHE_SIZE) documents.delete(documents.keys().next().value!);
    documents.set(query, checked);
    return checked;
  }

  /** The query operation `name` of the document, compiled; null when there is none (or it is no query). */
  function operationOf(checked: CheckedQuery, name: string | null): CompiledOperation | null {
    let known = checked.operations.get(name);
    if (known === undefined) {
      const operation = getOperationAST(checked.document, name);
      // Two names of one operation (null and its own, in a document of one operation) share it.
      for (const other of checked.operations.values()) if (other && other.operation === operation) known = other;
      if (known === undefined) {
        const compiled = operation?.operation === 'query' ? compileQuery(schema, checked.document, name ?? undefined) : null;
        const costInputs = operation && (checked.costInputs ??= costInputsOf(checked.document)).get(operation);
        known = operation && costInputs && compiled && isCompiledQuery(compiled) ? { operation, compiled, costInputs } : null;
      }
      // Names come from clients: a document has few operations, so few names are worth keeping.
      if (checked.operations.size < MAX_OPERATIONS_KEPT) checked.operations.set(name, known);
    }
    return known;
  }

  /**
   * operationCost of the operation with these variables, remembered per costKey (when it has one);
   * Infinity when it cannot be counted (null for @skip/@include's `if`): Yoga then answers the error.
   */
  function costOf(checked: CheckedQuery, compiled: CompiledOperation, name: string | null, variables: Record<string, unknown>): number {
    const key = costKey(compiled.costInputs, variables);
    if (key === undefined) return countedCost(checked.document, name, variables);
    let cost = checked.costs.get(key);
    if (cost === undefined) {
      cost = countedCost(checked.document, name, variables);
      if (checked.costs.size >= MAX_COSTS_KEPT) checked.costs.clear();
      checked.costs.set(key, cost);
    }
    return cost;
  }

  function countedCost(document: DocumentNode, name: string | null, variables: Record<string, unknown>): number {
    try {
      return operationCost(schema, document, name, variables);
    } catch {
      return Infinity;
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse, requestId: string, declared: number, resultType: string): Promise<void> {
    const started = performance.now();
    const origin = headerOf(req, 'origin');
    const address = pickClientAddress(trust, req.socket.remoteAddress, headerOf(req, 'x-forwarded-for'));
    let adminKey;
    try {
      adminKey = await surface.authenticate(headerOf(req, 'authorization'), address);
    } catch (err) {
      // As the router answers a route's thrown error: without CORS headers.
      return finish(started, requestId, await writeResponse(res, thrownErrorResponse(err, GRAPHQL_PATH, requestId, logger), requestId, declared > 0));
    }
    if (!adminKey) {
      const refused = withGraphQLCorsFor(origin, refusalResponse('unauthenticated', 'graphql', requestId), corsOrigins);
      return finish(started, requestId, await writeResponse(res, refused, requestId, declared > 0));
    }
    const body = await readBody(req);
    const params = paramsOf(body);
    const checked = params && checkedQuery(params.query);
    const compiled = checked && operationOf(checked, params.operationName);
    let executed: ExecutionResult | undefined;
    if (params && checked && compiled) {
      const { operation } = compiled;
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], params.variables, { maxErrors: 1 });
      if (!coerced.errors && costOf(checked, compiled, params.operationName, coerced.coerced) <= graphqlLimits.maxCost) {
        const result = await compiled.compiled.query(undefined, surface.context(adminKey, requestId), params.variables);
        if (result.errors) executed = asGraphQLResult(result, checked.document);
        else {
          // As bytes: JSON.stringify's text of a page is made of parts, which Buffer.byteLength would
          // join into one string, and Node's write again with the headers in front.
          const body = Buffer.from(compiled.compiled.stringify(result));
          // Headers as a flat list and the body in the same call: Node writes them in one go.
          const headers = ['content-type', resultType, 'content-length', String(body.length)];
          const corsHeaders = origin === null ? noOriginCors : graphqlCorsHeaders(origin, corsOrigins);
          for (const name in corsHeaders) headers.push(name, corsHeaders[name]!);
          headers.push('x-request-id', requestId);
          res.writeHead(200, headers);
          res.end(body);
          const labels = { operation: metrics.operationLabel(operation.name?.value), type: 'query', outcome: 'success' };
          metrics.graphqlOperations.inc(labels);
          metrics.graphqlOperationDuration.observe(labels, (performance.now() - started) / 1000);
          return finish(started, requestId, 200);
        }
      }
    }
    // Not ours to answer: the Yoga path answers it, from the body already read (and the result, if run).
    const response = await surface.answerAuthenticated(fetchRequestOf(req, body), adminKey, requestId, executed).catch((err: unknown) =>
      thrownErrorResponse(err, GRAPHQL_PATH, requestId, logger),
    );
    return finish(started, requestId, await writeResponse(res, response, requestId, false));
  }

  function finish(started: number, requestId: string, status: number): void {
    recordRequest(logger, 'POST', GRAPHQL_PATH, status, started, requestId);
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== GRAPHQL_PATH) return false;
    const headers = req.headers;
    if (headers['transfer-encoding'] !== undefined) return false;
    const length = headers['content-length'];
    if (length === undefined) return false;
    const declared = Number(length);
    if (!(declared > 0 && declared <= MAX_REQUEST_BODY_BYTES)) return false;
    const type = headers['content-type'];
    if (type === undefined || !JSON_TYPE.test(type)) return false;
    const resultType = resultTypeOf(headers.accept);
    if (resultType === null) return false;
    return inNodeRequestScope(logger, req, res, (requestId) => answer(req, res, requestId, declared, resultType));
  };
}

const resultTypes = new Map<string, string | null>();

/**
 * The Content-Type of Yoga's answer to a request with this Accept header (its choice, as
 * graphql-yoga's result processors make it), or null when it would not answer JSON.
 */
function resultTypeOf(accept: string | undefined): string | null {
  const key = accept ?? '';
  const known = resultTypes.get(key);
  if (known !== undefined) return known;
  let chosen: string | null = null;
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [asked, ...params] = entry.split(';');
    const charset = params.find((param) => param.includes('charset=')) ?? 'charset=utf-8';
    if (!asked || charset !== 'charset=utf-8') continue;
    const [askedType, askedSubtype] = asked.split('/');
    // Yoga keeps the last match of the first type asked for that matches (so */* is application/json).
    for (const type of RESULT_TYPES) {
      const [pre, suf] = type.split('/');
      if ((askedType === '*' || askedType === pre) && (askedSubtype === '*' || askedSubtype === suf)) chosen = type;
    }
    if (chosen !== null) break;
  }
  const answer = chosen && `${chosen}; charset=utf-8`;
  if (resultTypes.size < 100) resultTypes.set(key, answer);
  return answer;
}

/**
 * graphql-jit's result with errors as graphql's execute makes it: errors first, each a GraphQLError
 * of graphql's own with the nodes it is located at (graphql-jit's keep only their locations, which
 * Yoga's masking and error codes, rebuilding errors from their nodes, would drop).
 */
function asGraphQLResult(result: ExecutionResult, document: DocumentNode): ExecutionResult {
  let fields: Map<string, ASTNode> | undefined;
  const nodeAt = (at: { line: number; column: number }) => {
    if (!fields) {
      const found = new Map<string, ASTNode>();
      visit(document, {
        Field(node) {
          if (!node.loc) return;
          const { line, column } = getLocation(node.loc.source, node.loc.start);
          found.set(`${line}:${column}`, node);
        },
      });
      fields = found;
    }
    return fields.get(`${at.line}:${at.column}`);
  };
  const errors = result.errors!.map((error) => {
    const nodes = error.locations?.map(nodeAt);
    if (!nodes?.length || nodes.some((node) => !node)) return error;
    return new GraphQLError(error.message, { nodes: nodes as ASTNode[], path: error.path, originalError: error.originalError, extensions: error.extensions });
  });
  return { errors, data: result.data };
}

/** The body's GraphQL parameters if it has the plain shape Yoga takes without a word, else null. */
function paramsOf(body: string): Params | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isPlainObject(parsed)) return null;
  for (const key in parsed) if (!PARAMS.has(key)) return null;
  const { query, variables, operationName, extensions } = parsed;
  if (typeof query !== 'string') return null;
  if (variables != null && !isPlainObject(variables)) return null;
  if (operationName != null && typeof operationName !== 'string') return null;
  if (extensions != null && !isPlainObject(extensions)) return null;
  // PostgreSQL text cannot hold NUL: the Yoga path refuses it (src/limits/graphql.ts).
  if (body.includes('\\u0000')) return null;
  return { query, variables: (variables ?? {}) as Record<string, unknown>, operationName: (operationName as string | null | undefined) ?? null };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The Fetch-API Request of a Node request whose body has been read. */
function fetchRequestOf(req: IncomingMessage, body: string): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, { method: 'POST', headers, body });
}

/** Writes a Fetch-API Response, with the request id (and Connection: close when refused before the body was read); its status. */
async function writeResponse(res: ServerResponse, response: Response, requestId: string, closeConnection: boolean): Promise<number> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers['x-request-id'] = requestId;
  if (closeConnection && response.status >= 400) headers.connection = 'close';
  const body = Buffer.from(await response.arrayBuffer());
  if (headers['content-length'] === undefined && response.body !== null) headers['content-length'] = String(body.byteLength);
  res.writeHead(response.status, headers);
  res.end(body);
  return response.status;
}
