import { SigningKeyFromConfigurationError } from '../tokens/errors.js';
import type { RotatedSigningKey } from '../tokens/signing-keys.js';
import { grantMutation } from './access.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';

builder.objectType(SigningKeyFromConfigurationError, {
  name: 'SigningKeyFromConfigurationError',
  description:
    'Access tokens are signed with JWT_SECRET, a key from the configuration: only changing the variable rotates it. Unset it to have keys the gateway generates and rotates.',
  interfaces: [ErrorInterface],
});

const RotateSigningKeySuccess = builder.objectRef<RotatedSigningKey>('RotateSigningKeySuccess').implement({
  description:
    'New access tokens are signed with the new key, on every instance. Tokens signed with the previous key keep verifying until they expire; /.well-known/jwks.json lists both meanwhile.',
  fields: (t) => ({
    kid: t.exposeString('kid', { description: 'The `kid` of the new key, as tokens and the JWKS carry it.' }),
    algorithm: t.exposeString('algorithm', { description: 'What the new key signs with: EdDSA, ES256, RS256 or HS256.' }),
    previousKid: t.exposeString('previousKid', {
      nullable: true,
      description: 'The `kid` of the key it replaces, which now only verifies; null when there was none.',
    }),
  }),
});

builder.mutationField('rotateSigningKey', (t) =>
  t.field({
    ...grantMutation('owner'),
    type: RotateSigningKeySuccess,
    description:
      'Replaces the key that signs access tokens, without logging anyone out: new tokens use the new key at once, tokens of the previous key keep verifying until they expire. Audited.',
    errors: {
      types: [SigningKeyFromConfigurationError],
      directResult: true,
      union: { name: 'RotateSigningKeyResult', description: 'The new key, or why the key cannot be rotated here.' },
    },
    resolve: (_root, _args, ctx) => ctx.auth.keys.rotate(ctx.actor),
  }),
);
