// The cost limit, counted once the variables are known. graphql-armor's cost rule runs at validation,
// before variables exist: it multiplies a selection by `first: 500` written in the document, but not
// by `first: $n` with n = 500, nor by the page size a connection uses when `first` is left out. So
// `users(first: $u) { … sessions(first: $s) … }` with 500 × 500 went through as if it fetched one
// user with one session. Here the same model (graphql-armor's: an object costs 2, a scalar 1, each
// level below is weighted 1.5, a list selection is multiplied by its page size) is computed just
// before execution, with the coerced variables, the arguments' defaults, @skip/@include and the
// default page size, and the operation is refused when it is over the same maxCost.
import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  visit,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../db/keyset.js';

const OBJECT_COST = 2;
const SCALAR_COST = 1;
const DEPTH_FACTOR = 1.5;
/** The arguments whose value is a field's page size (read by pageSize, and by costInputsOf for costKey). */
export const PAGE_ARGUMENTS: readonly string[] = ['first', 'last'];

/** What a page argument's number counts as: values past MAX_PAGE_SIZE cost as MAX_PAGE_SIZE, below 1 as 1. */
function clampedPage(size: number): number {
  return Math.max(1, Math.min(Math.trunc(size), MAX_PAGE_SIZE));
}

/**
 * How many items a field asks for: its `first`/`last` (a literal, a variable or the argument's
 * default), the gateway's default page size when a paged field is given none, 1 for other fields.
 * Values past MAX_PAGE_SIZE are refused by the field itself, so they count as MAX_PAGE_SIZE and
 * keep their own, clearer error (BAD_USER_INPUT on `first`).
 */
function pageSize(field: GraphQLField<unknown, unknown> | undefined, node: FieldNode, variables: Record<string, unknown>): number {
  const paged = field?.args.find((arg) => PAGE_ARGUMENTS.includes(arg.name));
  if (!field || !paged) return 1;
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(field, node, variables);
  } catch {
    // A bad argument fails the execution with its own error; count the largest page meanwhile.
    return MAX_PAGE_SIZE;
  }
  const given = PAGE_ARGUMENTS.map((name) => values[name]).find((value) => typeof value === 'number');
  return clampedPage(typeof given === 'number' ? given : DEFAULT_PAGE_SIZE);
}

/**
 * The variables an operation's cost can depend on, from where its selections (and the fragments they
 * spread) use them, since operationCost reads variables only through pageSize's getArgumentValues
 * and included's @skip/@include:
 * - `pages`: the value of a page argument (`first: $n`); it counts as clampedPage of it, or as absent
 *   or null;
 * - `flags`: a variable in @skip/@include's `if`: true, false, absent or null;
 * - `presence`: any other argument's variable: only whether it is absent, null or given. Its value
 *   changes the cost only when getArgumentValues fails, and with coerced variables it fails only on
 *   null (or absent) where a non-null value is wanted; it then counts the largest page.
 * Any other variable (one only in another directive) leaves the cost as it is.
 */
export interface CostInputs {
  pages: readonly string[];
  flags: readonly string[];
  presence: readonly string[];
  /** What the operation's keys start with: its place among the document's operations. */
  prefix: string;
  /** The longest costKey these inputs make. */
  maxKeyLength: number;
}

/** Longer cost keys are not made: costKey answers undefined, and the cost is computed instead. */
export const MAX_COST_KEY_LENGTH = 256;

/** The CostInputs of each operation of a (valid) document, computed once per document. */
export function costInputsOf(document: DocumentNode): Map<OperationDefinitionNode, CostInputs> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const inputs = new Map<OperationDefinitionNode, CostInputs>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const prefix = `${inputs.size}:`;
    const pages = new Set<string>();
    const flags = new Set<string>();
    const presence = new Set<string>();
    const collect = (value: ValueNode, into: Set<string>) =>
      visit(value, {
        Variable(variable) {
          into.add(variable.name.value);
        },
      });
    const spread = new Set<string>();
    const walk = (selectionSet: SelectionSetNode) =>
      visit(selectionSet, {
        Field(field) {
          for (const { name, value } of field.arguments ?? []) {
            if (PAGE_ARGUMENTS.includes(name.value) && value.kind === Kind.VARIABLE) pages.add(value.name.value);
            else collect(value, presence);
          }
        },
        Directive(directive) {
          const name = directive.name.value;
          if (name !== GraphQLSkipDirective.name && name !== GraphQLIncludeDirective.name) return false;
          for (const argument of directive.arguments ?? []) collect(argument.value, flags);
          return undefined;
        },
        FragmentSpread(node) {
          const name = node.name.value;
          const fragment = fragments.get(name);
          if (fragment && !spread.has(name)) {
            spread.add(name);
            walk(fragment.selectionSet);
          }
        },
      });
    walk(definition.selectionSet);
    for (const name of [...pages, ...flags]) presence.delete(name);
    inputs.set(definition, {
      pages: [...pages],
      flags: [...flags],
      presence: [...presence],
      prefix,
      maxKeyLength: prefix.length + pages.size * `${MAX_PAGE_SIZE},`.length + flags.size + presence.size,
    });
  }
  return inputs;
}

/**
 * The key of the coerced variables under which an operation's cost may be remembered: two variable
 * sets of the same key cost the same (test/cost-key.test.ts checks it against operationCost), and
 * the keys of a document's operations differ (one map may hold them all).
 * Undefined when the key would be over MAX_COST_KEY_LENGTH or a value is not of the expected kind.
 */
export function costKey(inputs: CostInputs, variables: Record<string, unknown>): string | undefined {
  if (inputs.maxKeyLength > MAX_COST_KEY_LENGTH) return undefined;
  let key = inputs.prefix;
  for (const name of inputs.pages) {
    // Own properties only, as getArgumentValues reads them: not `$constructor` from Object.prototype.
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (typeof value === 'number') key += `${clampedPage(value)},`;
    else if (value === undefined) key += 'a,';
    else if (value === null) key += 'n,';
    else return undefined;
  }
  for (const name of inputs.flags) {
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === true) key += 't';
    else if (value === false) key += 'f';
    else if (value === undefined) key += 'a';
    else if (value === null) key += 'n';
    else return undefined;
  }
  for (const name of inputs.presence) {
    key += !Object.hasOwn(variables, name) ? 'a' : variables[name] === null ? 'n' : 'v';
  }
  return key;
}

/**
 * The cost of an operation with these (coerced) variables, in graphql-armor's model. Throws
 * getDirectiveValues' error when @skip/@include's `if` is given null (by a variable with a default):
 * such an operation does not run.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // Variables are fixed for the whole operation, so a fragment costs the same wherever it is spread.
  const fragmentCosts = new Map<string, number>();
  const visiting = new Set<string>();

  const included = (node: { readonly directives?: readonly DirectiveNode[] }) =>
    !getDirectiveValues(GraphQLSkipDirective, node, variables)?.if &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;

  function fieldOf(parent: GraphQLCompositeType | undefined, name: string) {
    if (!parent || (!isObjectType(parent) && !isInterfaceType(parent))) return undefined;
    return parent.getFields()[name];
  }

  function selectionCost(selectionSet: SelectionSetNode, parent: GraphQLCompositeType | undefined): number {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        cost += DEPTH_FACTOR * fieldCost(selection, parent);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        const inner = isCompositeType(type) ? type : undefined;
        cost += DEPTH_FACTOR * (OBJECT_COST + selectionCost(selection.selectionSet, inner));
      } else {
        cost += DEPTH_FACTOR * (SCALAR_COST + DEPTH_FACTOR * spreadCost(selection.name.value));
      }
    }
    return cost;
  }

  function spreadCost(name: string): number {
    const known = fragmentCosts.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // Unknown or cyclic fragments are refused by validation; they cost nothing here.
    if (!fragment || visiting.has(name)) return 0;
    visiting.add(name);
    const type = schema.getType(fragment.typeCondition.name.value);
    const cost = OBJECT_COST + selectionCost(fragment.selectionSet, isCompositeType(type) ? type : undefined);
    visiting.delete(name);
    fragmentCosts.set(name, cost);
    return cost;
  }

  function fieldCost(node: FieldNode, parent: GraphQLCompositeType | undefined): number {
    if (node.name.value === '__schema') return 0; // introspection, as graphql-armor ignores it
    if (!node.selectionSet) return SCALAR_COST;
    const field = fieldOf(parent, node.name.value);
    const type = field ? getNamedType(field.type) : undefined;
    const inner = type && (isObjectType(type) || isAbstractType(type) || isInterfaceType(type)) ? type : undefined;
    return (OBJECT_COST + selectionCost(node.selectionSet, inner)) * pageSize(field, node, variables);
  }

  const root = schema.getRootType(operation.operation) ?? undefined;
  // The operation's own selections are not weighted, as in graphql-armor.
  return selectionCost(operation.selectionSet, root) / DEPTH_FACTOR;
}

/**
 * Refuses, before it runs, an operation whose cost with its variables is over `maxCost`: the same
 * code as the validation-time refusal (GRAPHQL_VALIDATION_FAILED; HTTP 400 under
 * application/graphql-response+json, 200 under application/json, as Yoga's validation errors).
 */
export function costWithVariablesPlugin(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation) return;
      const coerced = getVariableValues(
        args.schema,
        operation.variableDefinitions ?? [],
        (args.variableValues ?? {}) as Record<string, unknown>,
        { maxErrors: 1 },
      );
      // Bad variables: execution reports them (BAD_USER_INPUT) and runs nothing.
      if (coerced.errors) return;
      let cost;
      try {
        cost = operationCost(args.schema, args.document, args.operationName, coerced.coerced);
      } catch (error) {
        // null for @skip/@include's `if` (a variable with a default): execution reports it and runs
        // nothing. Anything else is not a client's mistake, and is not let through uncounted.
        if (!(error instanceof GraphQLError)) throw error;
        return;
      }
      if (cost > maxCost) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`Query Cost limit of ${maxCost} exceeded, found ${Math.round(cost)} with the variables and default page sizes.`, {
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400, spec: true } },
            }),
          ],
        });
      }
    },
  };
}
