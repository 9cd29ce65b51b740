// The import file formats (src/import-formats): each parser reads its files as a stream, in chunks of
// any size, and yields a user per line or element, or the line's error with a stable code. Fixtures
// are written here, in the shapes the other systems export (no downloads).
import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { parseImportFile, type ImportFormat, type ImportRecord } from '../src/import-formats/index.js';
import type { ExportedUser } from '../src/users/export.js';
import { verifyPassword, type FirebaseScryptParams } from '../src/users/passwords.js';

/** The text as a read stream would give it: Buffers of `size` bytes (multi-byte characters split across them). */
async function* bytes(text: string, size: number) {
  const all = Buffer.from(text);
  for (let i = 0; i < all.length; i += size) yield all.subarray(i, i + size);
}

async function parse(format: ImportFormat, text: string, options: Parameters<typeof parseImportFile>[2] = {}, size = 7): Promise<ImportRecord[]> {
  const records: ImportRecord[] = [];
  for await (const record of parseImportFile(format, bytes(text, size), options)) records.push(record);
  return records;
}

/** Parses with several chunk sizes and checks they agree: the result does not depend on where chunks end. */
async function parseAnyChunks(format: ImportFormat, text: string, options: Parameters<typeof parseImportFile>[2] = {}) {
  const whole = await parse(format, text, options, 1 << 20);
  for (const size of [1, 2, 3, 5, 64]) expect(await parse(format, text, options, size)).toEqual(whole);
  return whole;
}

const users = (records: ImportRecord[]) => records.filter((r) => r.user).map((r) => ({ line: r.line, ...r.user! }));
const errors = (records: ImportRecord[]) => records.filter((r) => r.error).map((r) => ({ line: r.line, code: r.error!.code }));

describe('atlas: Admin API v3 users and pending users', () => {
  const USERS = `[
  {
    "_id": "5f1f216e82df4a7979f9da93",
    "identities": [{ "id": "5f1f216e82df4a7979f9da92", "provider_type": "local-userpass", "provider_id": "5f1f1fb0a7a3fb4b9ab1a1b1" }],
    "type": "normal",
    "creation_date": 1595875694,
    "last_authentication_date": 1600000000,
    "disabled": false,
    "data": { "email": "Ada.Lovelace@Example.com" },
    "custom_data": { "plan": "pro", "ünïcode": "✓" }
  },
  {
    "_id": "5f1f216e82df4a7979f9da94",
    "identities": [{ "id": "5f1f216e82df4a7979f9da95", "provider_type": "anon-user", "provider_id": "5f1f1fb0a7a3fb4b9ab1a1b2" }],
    "type": "normal",
    "creation_date": 1595875700,
    "last_authentication_date": 0,
    "disabled": true,
    "data": {}
  },
  "not a user",
  { "_id": "5f1f216e82df4a7979f9da96", "identities": [{ "id": "x", "provider_type": "local-userpass" }], "creation_date": 1, "data": {} },
  { "_id": "5f1f216e82df4a7979f9da97", "creation_date": "yesterday", "identities": [] }
]`;
  const PENDING = `[{"_id":"63754f968a605a78ea6939e7","user_id":"","domain_id":"60c8f69864c0a72d14bb534c","login_ids":[{"id":"someone@example.com","id_type":"email"}]},
{"_id":"63754fd83c001970b1e5ea66","user_id":"","domain_id":"60c8f69864c0a73e3e11c22b","login_ids":[{"id":"Joe@Example.com","id_type":"email"}]},
{"_id":"63754fd83c001970b1e5ea67","domain_id":"d","login_ids":[]}]`;

  it('maps confirmed, disabled and anonymous users, with their ids, dates and custom data, and no password', async () => {
    const records = await parseAnyChunks('atlas', USERS);
    expect(users(records)).toEqual([
      {
        line: 2,
        id: '5f1f216e82df4a7979f9da93',
        email: 'Ada.Lovelace@Example.com',
        status: 'confirmed',
        createdAt: new Date(1595875694 * 1000),
        lastAuthenticatedAt: new Date(1600000000 * 1000),
        disabledAt: null,
        customData: { plan: 'pro', ünïcode: '✓' },
        identities: [{ providerType: 'local-userpass', providerId: 'ada.lovelace@example.com', passwordHash: null }],
      },
      {
        line: 12,
        id: '5f1f216e82df4a7979f9da94',
        email: null,
        status: 'disabled',
        createdAt: new Date(1595875700 * 1000),
        lastAuthenticatedAt: null,
        disabledAt: null,
        customData: {},
        identities: [{ providerType: 'anon-user', providerId: '5f1f216e82df4a7979f9da95' }],
      },
    ]);
    // A string element, a local-userpass user without an email, a creation date that is not a number.
    expect(errors(records)).toEqual([
      { line: 21, code: 'MALFORMED_RECORD' },
      { line: 22, code: 'MALFORMED_RECORD' },
      { line: 23, code: 'MALFORMED_RECORD' },
    ]);
  });

  it('keeps pending users pending, with the registration id and its time, told apart per element', async () => {
    const records = await parseAnyChunks('atlas', PENDING);
    expect(users(records)).toEqual([
      {
        line: 1,
        id: '63754f968a605a78ea6939e7',
        email: 'someone@example.com',
        status: 'pending',
        createdAt: new Date(0x63754f96 * 1000),
        lastAuthenticatedAt: null,
        disabledAt: null,
        customData: {},
        identities: [{ providerType: 'local-userpass', providerId: 'someone@example.com', passwordHash: null }],
      },
      expect.objectContaining({ line: 2, id: '63754fd83c001970b1e5ea66', email: 'Joe@Example.com', status: 'pending' }),
    ]);
    expect(errors(records)).toEqual([{ line: 3, code: 'MALFORMED_RECORD' }]);
    // Both kinds in one array.
    const mixed = await parse('atlas', `[${USERS.slice(1, USERS.indexOf('"not a user"'))}${PENDING.slice(1)}`);
    expect(users(mixed).map((u) => u.status)).toEqual(['confirmed', 'disabled', 'pending', 'pending']);
  });

  it('reports an element that is not JSON and goes on; a file that is not an array or ends early is reported, not thrown', async () => {
    const records = await parseAnyChunks('atlas', `[\n{"_id": "5f1f216e82df4a7979f9da93", "creation_date": 1, "identities": [], oops},\n${PENDING.slice(1)}`);
    expect(errors(records)).toEqual([{ line: 2, code: 'MALFORMED_JSON' }, { line: 5, code: 'MALFORMED_RECORD' }]);
    expect(users(records)).toHaveLength(2);
    expect(errors(await parse('atlas', '{"users": []}'))).toEqual([{ line: 1, code: 'MALFORMED_JSON' }]);
    expect(errors(await parse('atlas', '[{"_id": "5f1f216e82df4a7979f9da93", "identities": ['))).toEqual([{ line: 1, code: 'MALFORMED_JSON' }]);
    expect(await parse('atlas', ' [ ] ')).toEqual([]);
  });
});

/** Firebase's modified scrypt, as Firebase computes it: what `firebase auth:export` gives for a password. */
function firebaseHash(params: FirebaseScryptParams, password: string): { salt: string; passwordHash: string } {
  const salt = randomBytes(12);
  const key = scryptSync(password, Buffer.concat([salt, Buffer.from(params.saltSeparator, 'base64')]), 32, {
    N: 2 ** params.memCost,
    r: params.rounds,
    p: 1,
    maxmem: 256 * 2 ** params.memCost * params.rounds,
  });
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = Buffer.concat([cipher.update(Buffer.from(params.signerKey, 'base64')), cipher.final()]);
  return { salt: salt.toString('base64'), passwordHash: hash.toString('base64') };
}

describe('firebase: auth:export JSON', () => {
  const PARAMS: FirebaseScryptParams = { signerKey: randomBytes(64).toString('base64'), saltSeparator: 'Bw==', rounds: 8, memCost: 10 };
  const exported = () => ({
    users: [
      { localId: 'Z8ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Q2', email: 'Grace@Example.com', emailVerified: false, ...firebaseHash(PARAMS, 'old password 1'), createdAt: '1600000000000', lastSignedInAt: '1650000000000', disabled: false, providerUserInfo: [{ providerId: 'password', rawId: 'grace@example.com', email: 'grace@example.com' }], customAttributes: '{"admin":true}' },
      { localId: 'disabledUser', email: 'off@example.com', emailVerified: true, ...firebaseHash(PARAMS, 'old password 2'), createdAt: '1600000000001', disabled: true },
      { localId: 'googleOnly', email: 'g@example.com', emailVerified: false, createdAt: '1600000000002', providerUserInfo: [{ providerId: 'google.com', rawId: '1234567890', email: 'g@example.com' }] },
      { localId: 'anonymousUser', createdAt: '1600000000003' },
      { email: 'no-id@example.com', createdAt: '1' },
      { localId: 'badAttributes', createdAt: '1', customAttributes: '{not json' },
    ],
  });

  it('stores the hashes with the project parameters, so the old passwords verify; maps status and providers', async () => {
    const records = await parseAnyChunks('firebase', JSON.stringify(exported(), null, 2), { firebase: PARAMS });
    const [grace, disabled, google, anonymous] = users(records);
    expect(grace).toMatchObject({
      id: 'Z8ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Q2',
      email: 'Grace@Example.com',
      // A user with a password is confirmed, verified or not (Firebase lets them sign in).
      status: 'confirmed',
      createdAt: new Date(1600000000000),
      lastAuthenticatedAt: new Date(1650000000000),
      customData: { admin: true },
    });
    expect(grace!.identities).toHaveLength(1);
    expect(grace!.identities[0]).toMatchObject({ providerType: 'local-userpass', providerId: 'grace@example.com' });
    expect(await verifyPassword('old password 1', grace!.identities[0]!.passwordHash!)).toBe(true);
    expect(await verifyPassword('old password 2', grace!.identities[0]!.passwordHash!)).toBe(false);
    expect(disabled).toMatchObject({ id: 'disabledUser', status: 'disabled' });
    expect(await verifyPassword('old password 2', disabled!.identities[0]!.passwordHash!)).toBe(true);
    expect(google).toMatchObject({
      id: 'googleOnly',
      status: 'pending',
      identities: [
        { providerType: 'local-userpass', providerId: 'g@example.com', passwordHash: null },
        { providerType: 'oauth2-google', providerId: '1234567890' },
      ],
    });
    expect(anonymous).toMatchObject({ id: 'anonymousUser', email: null, status: 'confirmed', identities: [{ providerType: 'anon-user', providerId: 'anonymousUser' }] });
    expect(errors(records).map((e) => e.code)).toEqual(['MALFORMED_RECORD', 'MALFORMED_RECORD']);
  });

  it('refuses users with a hash when the project parameters are not given, and a file without "users"', async () => {
    const records = await parse('firebase', JSON.stringify(exported()), { firebase: null });
    expect(errors(records).map((e) => e.code)).toEqual(['MALFORMED_RECORD', 'MALFORMED_RECORD', 'MALFORMED_RECORD', 'MALFORMED_RECORD']);
    expect(users(records).map((u) => u.id)).toEqual(['googleOnly', 'anonymousUser']);
    expect(errors(await parse('firebase', '[{"localId": "x"}]'))).toEqual([{ line: 1, code: 'MALFORMED_JSON' }]);
  });
});

describe('supabase: auth.users as CSV or JSON', () => {
  const hash = bcrypt.hashSync('supabase password', 4);
  const NOW = new Date('2026-06-01T00:00:00Z');
  const HEADER = 'instance_id,id,aud,role,email,encrypted_password,email_confirmed_at,banned_until,created_at,updated_at,last_sign_in_at,raw_user_meta_data,is_anonymous,deleted_at';
  const CSV = [
    HEADER,
    // Quoted JSON with commas, "" escapes and a line break inside a string value.
    `00000000-0000-0000-0000-000000000000,11111111-1111-4111-8111-111111111111,authenticated,authenticated,Lin@Example.com,${hash},2024-01-02 03:04:05.123456+00,,2024-01-01 00:00:00+00,2024-01-02 00:00:00+00,2025-01-01 10:00:00.5+00,"{""name"":""Lin, \\""the\\"" first"",\n""bio"":""line one\\nline two""}",false,`,
    `00000000-0000-0000-0000-000000000000,22222222-2222-4222-8222-222222222222,authenticated,authenticated,banned@example.com,${hash},2024-01-02 03:04:05+00,2099-01-01 00:00:00+00,2024-01-01 00:00:00+00,2024-03-01 00:00:00+00,,{},false,`,
    `00000000-0000-0000-0000-000000000000,33333333-3333-4333-8333-333333333333,authenticated,authenticated,unconfirmed@example.com,${hash},,2020-01-01 00:00:00+00,2024-01-01 00:00:00+00,2024-01-01 00:00:00+00,,,false,`,
    `00000000-0000-0000-0000-000000000000,44444444-4444-4444-8444-444444444444,authenticated,authenticated,,,,,2024-01-01 00:00:00+00,2024-01-01 00:00:00+00,,,true,`,
    `00000000-0000-0000-0000-000000000000,55555555-5555-4555-8555-555555555555,authenticated,authenticated,,,,,2024-01-01 00:00:00+00,,,,false,`,
    `00000000-0000-0000-0000-000000000000,66666666-6666-4666-8666-666666666666,authenticated,authenticated,gone@example.com,,,,2024-01-01 00:00:00+00,,,,false,2025-01-01 00:00:00+00`,
    `broken,"unterminated"x,`,
    `too,few`,
    `00000000-0000-0000-0000-000000000000,77777777-7777-4777-8777-777777777777,authenticated,authenticated,last@example.com,"",2024-01-02 03:04:05+00,,2024-01-01 00:00:00+00,,,"{}",false,`,
  ].join('\r\n');

  it('reads quoted fields, embedded line breaks and "" escapes; maps bans, confirmation and bcrypt hashes', async () => {
    const records = await parseAnyChunks('supabase', CSV, { now: NOW });
    const found = users(records);
    expect(found.map((u) => [u.line, u.id, u.status])).toEqual([
      [2, '11111111-1111-4111-8111-111111111111', 'confirmed'],
      [4, '22222222-2222-4222-8222-222222222222', 'disabled'],
      [5, '33333333-3333-4333-8333-333333333333', 'pending'],
      [6, '44444444-4444-4444-8444-444444444444', 'confirmed'],
      [11, '77777777-7777-4777-8777-777777777777', 'confirmed'],
    ]);
    expect(found[0]).toEqual({
      line: 2,
      id: '11111111-1111-4111-8111-111111111111',
      email: 'Lin@Example.com',
      status: 'confirmed',
      createdAt: new Date('2024-01-01T00:00:00Z'),
      lastAuthenticatedAt: new Date('2025-01-01T10:00:00.500Z'),
      disabledAt: null,
      customData: { name: 'Lin, "the" first', bio: 'line one\nline two' },
      identities: [{ providerType: 'local-userpass', providerId: 'lin@example.com', passwordHash: hash }],
    });
    expect(await verifyPassword('supabase password', found[0]!.identities[0]!.passwordHash!)).toBe(true);
    expect(found[1]!.disabledAt).toEqual(new Date('2024-03-01T00:00:00Z'));
    expect(found[3]!.identities).toEqual([{ providerType: 'anon-user', providerId: '44444444-4444-4444-8444-444444444444' }]);
    // An empty quoted hash is no password.
    expect(found[4]!.identities[0]!.passwordHash).toBeNull();
    // A phone-only user, a stray quote, a short record; the soft-deleted row is skipped.
    expect(errors(records)).toEqual([
      { line: 7, code: 'UNSUPPORTED_USER' },
      { line: 9, code: 'MALFORMED_CSV' },
      { line: 10, code: 'MALFORMED_CSV' },
    ]);
  });

  it('reads the same rows from a JSON array (json_agg of auth.users)', async () => {
    const rows = [
      { id: '11111111-1111-4111-8111-111111111111', email: 'Lin@Example.com', encrypted_password: hash, email_confirmed_at: '2024-01-02T03:04:05.123456+00:00', banned_until: null, created_at: '2024-01-01T00:00:00+00:00', last_sign_in_at: null, raw_user_meta_data: { name: 'Lin' } },
      { id: '33333333-3333-4333-8333-333333333333', email: 'u@example.com', encrypted_password: '', email_confirmed_at: null, created_at: '2024-01-01T00:00:00Z' },
      { id: 'x', email: 'bad-date@example.com', created_at: 'soon' },
    ];
    const records = await parseAnyChunks('supabase', `\n${JSON.stringify(rows, null, 1)}`, { now: NOW });
    expect(users(records).map((u) => [u.id, u.status, u.customData])).toEqual([
      ['11111111-1111-4111-8111-111111111111', 'confirmed', { name: 'Lin' }],
      ['33333333-3333-4333-8333-333333333333', 'pending', {}],
    ]);
    expect(errors(records).map((e) => e.code)).toEqual(['MALFORMED_RECORD']);
  });
});

describe('jsonl: our export format', () => {
  const exported: ExportedUser[] = [
    {
      id: '5f1f216e82df4a7979f9da93',
      email: 'ada@example.com',
      status: 'disabled',
      createdAt: '2020-07-27T18:48:14.000Z',
      lastAuthenticatedAt: '2021-01-01T00:00:00.123Z',
      disabledAt: '2022-02-02T02:02:02.000Z',
      customData: { nested: { list: [1, 'two', null] } },
      identities: [
        { providerType: 'local-userpass', providerId: 'ada@example.com', passwordHash: '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm' },
        { providerType: 'api-key', providerId: 'k1' },
      ],
    },
    { id: 'b', email: null, status: 'confirmed', createdAt: '2020-01-01T00:00:00.000Z', lastAuthenticatedAt: null, disabledAt: null, customData: {}, identities: [{ providerType: 'anon-user', providerId: 'b' }] },
    // Exported without hashes: no password, to be reset.
    { id: 'c', email: 'c@example.com', status: 'pending', createdAt: '2020-01-01T00:00:00.000Z', lastAuthenticatedAt: null, disabledAt: null, customData: {}, identities: [{ providerType: 'local-userpass', providerId: 'c@example.com' }] },
  ];

  it('gives back every field of every exported line', async () => {
    const text = `${exported.map((u) => JSON.stringify(u)).join('\n')}\n`;
    const found = users(await parseAnyChunks('jsonl', text));
    expect(found.map(({ line: _line, ...user }) => ({
      ...user,
      createdAt: user.createdAt.toISOString(),
      lastAuthenticatedAt: user.lastAuthenticatedAt?.toISOString() ?? null,
      disabledAt: user.disabledAt?.toISOString() ?? null,
    }))).toEqual([exported[0], exported[1], { ...exported[2], identities: [{ providerType: 'local-userpass', providerId: 'c@example.com', passwordHash: null }] }]);
  });

  it('reports malformed lines by number and goes on; blank lines and a missing final newline are fine', async () => {
    const good = JSON.stringify(exported[1]);
    const text = [good, '{"id": "x", "status": "confirmed"', '', JSON.stringify({ ...exported[1], status: 'active' }), '[1]', good].join('\r\n');
    const records = await parseAnyChunks('jsonl', text);
    expect(errors(records)).toEqual([
      { line: 2, code: 'MALFORMED_JSON' },
      { line: 4, code: 'MALFORMED_RECORD' },
      { line: 5, code: 'MALFORMED_RECORD' },
    ]);
    expect(users(records).map((u) => u.line)).toEqual([1, 6]);
  });

  it('streams: a large file in small chunks yields every user in order', async () => {
    async function* generated() {
      for (let i = 0; i < 20_000; i++) yield `${JSON.stringify({ ...exported[1], id: `u${i}` })}\n`;
    }
    let n = 0;
    for await (const record of parseImportFile('jsonl', generated())) {
      expect(record.user?.id).toBe(`u${n}`);
      n++;
    }
    expect(n).toBe(20_000);
  });
});
