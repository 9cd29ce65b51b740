import { EmailTakenError, InvalidInputError, PendingUserError, SessionNotFoundError, UserNotFoundError } from '../errors.js';
import { builder } from './builder.js';

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure of an operation, returned as a member of its result union.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong, in words meant for a person.' }),
  }),
});

builder.objectType(UserNotFoundError, {
  name: 'UserNotFoundError',
  description: 'No user has the given id (it never existed, or it was deleted).',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id that was asked for.' }),
  }),
});

builder.objectType(PendingUserError, {
  name: 'PendingUserError',
  description: 'The user has signed up but not confirmed yet: pending users cannot be disabled, only deleted.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id of the pending user.' }),
  }),
});

builder.objectType(EmailTakenError, {
  name: 'EmailTakenError',
  description: 'Another user already has this email address (compared case-insensitively).',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    email: t.exposeString('email', { description: 'The email address that is taken.' }),
  }),
});

builder.objectType(InvalidInputError, {
  name: 'InvalidInputError',
  description: 'An argument has a value the operation cannot take, such as a malformed email or a short password.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field', { description: 'The name of the argument at fault.' }),
  }),
});

builder.objectType(SessionNotFoundError, {
  name: 'SessionNotFoundError',
  description:
    'No live session has the given id: it never existed, was already revoked or logged out, has expired, or its user was deleted.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The id that was asked for.' }),
  }),
});
