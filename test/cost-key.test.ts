// costKey (src/limits/cost.ts): the direct GraphQL path remembers an operation's cost under it, so two
// variable sets of one key must cost the same. Checked against operationCost itself over many
// random variable sets (page sizes, null, absent, @skip/@include) on documents with fragments,
// aliases, input objects, lists and several operations, on a schema that also has `last` and
// non-null arguments beside the page arguments.
import { buildSchema, getVariableValues, Kind, parse, validate, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costInputsOf, costKey, MAX_COST_KEY_LENGTH, operationCost } from '../src/limits/cost.js';

const schema = buildSchema(`
  type Query {
    items(first: Int, last: Int, after: String, owner: ID!, filter: Filter): ItemConnection!
    deep(first: Int = 10, tags: [String!]): ItemConnection!
    plain(id: ID!): Item
  }
  input Filter { status: String!, names: [String!] }
  type ItemConnection { edges: [Edge!]!, totalCount: Int! }
  type Edge { node: Item! }
  type Item { id: ID!, children(first: Int, last: Int, kind: String!): ItemConnection! }
`);

const DOCUMENTS = [
  `query ($f: Int, $l: Int, $o: ID = "x", $b: Boolean!) {
     items(first: $f, last: $l, owner: $o) { totalCount edges @include(if: $b) { node { id } } }
   }`,
  `query Q($f: Int, $l: Int, $o: ID = "x", $s: String = "s", $c: Boolean!, $k: String = "k") {
     a: items(first: $f, owner: $o, filter: { status: $s }) { ...E }
     b: items(last: $l, owner: "z") { ...E @skip(if: $c) }
     c: deep(first: $l) { ... on ItemConnection @include(if: $c) { edges { node { id } } } }
   }
   fragment E on ItemConnection { edges { node { children(first: $f, last: $l, kind: $k) { ...T } } } }
   fragment T on ItemConnection { totalCount edges { node { children(first: $l, kind: "x") { totalCount } } } }`,
  `query A($f: Int, $o: ID = "x") { items(first: $f, owner: $o) { edges { node { id } } } }
   query B($l: Int, $n: String = "q", $b: Boolean = true) {
     deep(first: $l) @skip(if: $b) { edges { node { children(last: $l, kind: $n) { totalCount } } } }
     items(owner: "o", filter: { status: "a", names: [$n] }) { edges { node { id } } }
   }`,
  `query ($constructor: Int, $toString: ID = "y", $tags: [String!], $hasOwnProperty: String = "h") {
     items(first: $constructor, owner: $toString) { edges { node { children(first: 2, kind: $hasOwnProperty) { totalCount } } } }
     deep(tags: $tags) { totalCount }
     plain(id: $toString) { id }
   }`,
];

// A seeded generator: the same variable sets on every run.
let seed = 42;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const SAMPLES: Record<string, readonly unknown[]> = {
  Int: [-3, 0, 1, 2, 7, 50, 499, 500, 501, 10_000],
  Boolean: [true, false],
  ID: ['x', 'an-id'],
  String: ['s', 'other'],
  '[String!]': [[], ['a'], ['a', 'b']],
};

/** Raw variables for an operation: each absent, null or a sample of its type. */
function randomVariables(operation: OperationDefinitionNode): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const definition of operation.variableDefinitions ?? []) {
    const type = definition.type.kind === Kind.NON_NULL_TYPE ? definition.type.type : definition.type;
    const typeName = type.kind === Kind.LIST_TYPE ? '[String!]' : type.kind === Kind.NAMED_TYPE ? type.name.value : '';
    const roll = random();
    if (roll < 0.2) continue;
    variables[definition.variable.name.value] = roll < 0.35 ? null : pick(SAMPLES[typeName]!);
  }
  return variables;
}

function outcome(document: DocumentNode, name: string | undefined, variables: Record<string, unknown>): string {
  try {
    return String(operationCost(schema, document, name, variables));
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

describe('costKey', () => {
  it.each(DOCUMENTS.map((text, i) => [i, text]))('gives one cost per key, the one operationCost gives, for document %i', (_i, text) => {
    const document = parse(text);
    expect(validate(schema, document)).toEqual([]);
    const inputs = costInputsOf(document);
    for (const operation of document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)) {
      const name = operation.name?.value;
      const byKey = new Map<string, { outcome: string; variables: Record<string, unknown> }>();
      let keyed = 0;
      for (let i = 0; i < 1500; i++) {
        const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], randomVariables(operation), { maxErrors: 1 });
        if (coerced.errors) continue;
        const key = costKey(inputs.get(operation)!, coerced.coerced);
        expect(key).toBeDefined();
        const now = outcome(document, name, coerced.coerced);
        const first = byKey.get(key!);
        if (first) expect(now, `${JSON.stringify(coerced.coerced)} has the key of ${JSON.stringify(first.variables)}`).toBe(first.outcome);
        else byKey.set(key!, { outcome: now, variables: coerced.coerced });
        keyed++;
      }
      // Enough sets to matter, and many that share a key with another.
      expect(keyed).toBeGreaterThan(500);
      expect(keyed - byKey.size).toBeGreaterThan(keyed / 4);
    }
  });

  it('reads only the variables of the operation and of the fragments it spreads', () => {
    const document = parse(`
      query A($f: Int, $q: String) { items(first: $f, owner: "o") { ...E } }
      query B($l: Int, $z: String = "z", $y: Boolean!) { items(last: $l, owner: $z) @include(if: $y) { totalCount } }
      fragment E on ItemConnection { edges { node { children(kind: "k", first: 3) { totalCount } } } }
      fragment Unused on Item { children(first: $l, kind: $q) { totalCount } }`);
    const [a, b] = [...costInputsOf(document).entries()];
    expect(a![0].name?.value).toBe('A');
    expect(a![1]).toMatchObject({ pages: ['f'], flags: [], presence: [] });
    expect(b![1]).toMatchObject({ pages: ['l'], flags: ['y'], presence: ['z'] });
    // One map holds the costs of a document's operations: their keys never meet.
    expect(costKey(a![1], { f: 5 })).not.toBe(costKey(b![1], { l: 5 }));
  });

  it('keeps page sizes only as far as they change the cost', () => {
    const [inputs] = costInputsOf(parse('query ($f: Int) { items(first: $f, owner: "o") { totalCount } }')).values();
    expect(costKey(inputs!, { f: 500 })).toBe(costKey(inputs!, { f: 123_456 }));
    expect(costKey(inputs!, { f: 1 })).toBe(costKey(inputs!, { f: -5 }));
    expect(costKey(inputs!, { f: 499 })).not.toBe(costKey(inputs!, { f: 500 }));
    expect(costKey(inputs!, {})).not.toBe(costKey(inputs!, { f: null }));
  });

  it('does not take Object.prototype names for given variables', () => {
    const [inputs] = costInputsOf(parse('query ($constructor: Int, $toString: ID) { items(first: $constructor, owner: "o", after: $toString) { totalCount } }')).values();
    expect(inputs).toMatchObject({ pages: ['constructor'], presence: ['toString'] });
    expect(costKey(inputs!, {})).toBe('0:a,a');
    expect(costKey(inputs!, { constructor: 5, toString: 'x' })).toBe('0:5,v');
    expect(costKey(inputs!, { constructor: null, toString: null })).toBe('0:n,n');
  });

  it(`makes no key longer than ${MAX_COST_KEY_LENGTH} characters`, () => {
    const many = Array.from({ length: 80 }, (_, i) => `a${i}: items(first: $f${i}, owner: "o") { totalCount }`);
    const text = `query (${many.map((_, i) => `$f${i}: Int`).join(', ')}) { ${many.join(' ')} }`;
    const [inputs] = costInputsOf(parse(text)).values();
    expect(inputs!.maxKeyLength).toBeGreaterThan(MAX_COST_KEY_LENGTH);
    expect(costKey(inputs!, { f0: 500 })).toBeUndefined();
  });
});
