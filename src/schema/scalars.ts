import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import { isoString } from '../iso-string.js';
import { builder } from './builder.js';

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new GraphQLError('DateTime must be an ISO 8601 string such as "2026-01-31T12:00:00.000Z".', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'A point in time, as an ISO 8601 string in UTC with milliseconds ("2026-01-31T12:00:00.000Z").',
  serialize: (value) => isoString(value instanceof Date ? value : new Date(value as string)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : null),
});

builder.scalarType('JSON', {
  description: 'Any JSON value: an object, an array, a string, a number, a boolean or null.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
