import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphQLObjectType, GraphQLSchema, GraphQLString, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isUnionType } from 'graphql';
import { printContract, schema, withoutEdgeNodeResolvers } from '../src/schema/index.js';

describe('the public contract', () => {
  it('schema.graphql is exactly what the code prints (run `npm run schema` after a change)', () => {
    const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(printContract()).toBe(committed);
  });

  it('every type, field, argument and enum value is described', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
      void isUnionType;
    }
    expect(missing).toEqual([]);
  });

  it("keeps no resolver on the four edges' node (graphql-jit then reads the property)", () => {
    for (const name of ['UserEdge', 'SessionEdge', 'AuditEventEdge', 'WebhookDeliveryEdge']) {
      const type = schema.getType(name);
      expect(isObjectType(type), name).toBe(true);
      const node = (type as GraphQLObjectType).getFields().node;
      expect(node, name).toBeDefined();
      expect(node!.resolve, name).toBeUndefined();
    }
  });

  it("drops only a node resolver seen to read the parent's node, and catches a thenable's failure", () => {
    const caught: unknown[] = [];
    const thenable = { then: (_done: unknown, failed: unknown) => caught.push(failed) };
    const edge = (name: string, resolve: (parent: { node: unknown }) => unknown) =>
      new GraphQLObjectType({ name, fields: { node: { type: GraphQLString, resolve } } });
    const built = withoutEdgeNodeResolvers(
      new GraphQLSchema({
        query: new GraphQLObjectType({
          name: 'Query',
          fields: {
            plain: { type: edge('PlainEdge', (parent) => parent.node) },
            wrapped: { type: edge('WrappedEdge', () => thenable) },
            other: { type: edge('OtherEdge', () => 'something else') },
          },
        }),
      }),
    );
    const nodeOf = (name: string) => (built.getType(name) as GraphQLObjectType).getFields().node!;
    expect(nodeOf('PlainEdge').resolve).toBeUndefined();
    expect(nodeOf('WrappedEdge').resolve).toBeDefined();
    expect(nodeOf('OtherEdge').resolve).toBeDefined();
    expect(caught).toHaveLength(1);
    expect(typeof caught[0]).toBe('function');
  });
});
