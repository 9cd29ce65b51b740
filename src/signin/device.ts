// What a client says about itself when it logs in: `options.device` of the login body. Kept with the
// session so an operator can tell a user's phone from its laptop before revoking one of them.
//
// The field names are the SDKs' own:
// - realm-web 2.0.1 (DeviceInformation.toJSON): sdkVersion, platform (the browser's name, or "node"),
//   platformVersion, appId, appVersion, deviceId (an ObjectId's hex);
// - realm-core 14.14 (App::attach_auth_options, used by realm-js 12, Swift, Kotlin, Dart, .NET):
//   appId, platform, platformVersion, sdk (the SDK's name), sdkVersion, cpuArch, deviceName,
//   deviceVersion, frameworkName, frameworkVersion, coreVersion, bundleId; no deviceId.
// Each is whatever the client chose to send, so it is only ever shown, never trusted: anything that
// is not a short, printable string is dropped (the login goes on without it).

/** The device id as the client sent it (deviceIdFrom in tokens.ts checks it), and the rest, checked. */
export interface ReportedDevice {
  /** `deviceId` as sent: a string, an `{ $oid }` (EJSON), or anything else; tokens.ts decides. */
  deviceId: unknown;
  sdk: string | null;
  sdkVersion: string | null;
  platform: string | null;
  platformVersion: string | null;
  deviceName: string | null;
  appVersion: string | null;
}

/** The longest value kept; SDK names and versions are far shorter. */
export const DEVICE_FIELD_MAX_LENGTH = 64;

// Control characters, and the Unicode format and line/paragraph separators that could disguise text.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A reported value worth showing: a non-empty printable string of at most 64 characters, trimmed. */
function shown(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (text === '' || text.length > DEVICE_FIELD_MAX_LENGTH) return null;
  if (UNPRINTABLE.test(text) || LONE_SURROGATE.test(text)) return null;
  return text.normalize('NFC');
}

/** Reads `options.device` of a login body (anything: a client may send any JSON there). */
export function readReportedDevice(device: unknown): ReportedDevice {
  const fields = device && typeof device === 'object' && !Array.isArray(device) ? (device as Record<string, unknown>) : {};
  return {
    deviceId: fields.deviceId,
    sdk: shown(fields.sdk),
    sdkVersion: shown(fields.sdkVersion),
    platform: shown(fields.platform),
    platformVersion: shown(fields.platformVersion),
    deviceName: shown(fields.deviceName),
    appVersion: shown(fields.appVersion),
  };
}

/** The reported fields stored with a session (every one but the device id, which has its own rule). */
export type StoredDevice = Omit<ReportedDevice, 'deviceId'>;

export function storedDevice({ deviceId: _, ...rest }: ReportedDevice): StoredDevice {
  return rest;
}
