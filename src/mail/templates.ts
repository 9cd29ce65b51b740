// What each kind of mail says: subject, plain text and HTML, with defaults here and overrides read
// from MAIL_TEMPLATES_DIR once, at start. The variable parts come from the gateway, never from a
// request: the link (built from configuration: PUBLIC_URL, CONFIRMATION_URL), how long it works and
// the recipient's address.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The kinds of mail the gateway sends; `mail_outbox.kind`. */
export const MAIL_KINDS = ['confirm', 'password_reset'] as const;
export type MailKind = (typeof MAIL_KINDS)[number];

export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export type MailTemplates = Record<MailKind, MailTemplate>;

/** The values a template may use, as `{{link}}`, `{{expiresInMinutes}}` and `{{email}}`. */
export interface MailVariables {
  link: string;
  expiresInMinutes: number;
  email: string;
}

const VARIABLES: readonly (keyof MailVariables)[] = ['link', 'expiresInMinutes', 'email'];

const page = (paragraphs: string) =>
  `<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">${paragraphs}</body></html>`;

export const defaultMailTemplates: MailTemplates = {
  confirm: {
    subject: 'Confirm your email address',
    text: 'Open this link to confirm your email address: {{link}}\nIt works once, for {{expiresInMinutes}} minutes.\n\nIf you did not sign up, ignore this mail.\n',
    html: page(
      '<p>Confirm your email address by opening this link:</p><p><a href="{{link}}">Confirm my email address</a></p><p>It works once, for {{expiresInMinutes}} minutes. If you did not sign up, ignore this mail.</p>',
    ),
  },
  password_reset: {
    subject: 'Reset your password',
    text: 'Open this link to choose a new password: {{link}}\nIt works once, for {{expiresInMinutes}} minutes.\n\nIf you did not ask for it, ignore this mail: your password stays as it is.\n',
    html: page(
      '<p>Choose a new password by opening this link:</p><p><a href="{{link}}">Reset my password</a></p><p>It works once, for {{expiresInMinutes}} minutes. If you did not ask for it, ignore this mail: your password stays as it is.</p>',
    ),
  },
};

export class MailTemplateError extends Error {}

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

function checkTemplate(text: string, where: string, singleLine: boolean): string {
  for (const [, name] of text.matchAll(PLACEHOLDER)) {
    if (!VARIABLES.includes(name as keyof MailVariables)) {
      throw new MailTemplateError(`${where}: unknown variable {{${name}}}; the variables are ${VARIABLES.map((v) => `{{${v}}}`).join(', ')}.`);
    }
  }
  if (singleLine && /[\r\n]/.test(text.trim())) throw new MailTemplateError(`${where}: a subject is one line.`);
  return singleLine ? text.trim() : text;
}

/**
 * The templates, with the files of `dir` in place of the defaults: `<kind>.subject.txt`,
 * `<kind>.txt` and `<kind>.html` (such as `confirm.html`, `password_reset.subject.txt`); a part
 * without a file keeps its default. A file for no known kind, an unknown variable or a subject of
 * more than one line is refused, naming the file.
 */
export async function loadMailTemplates(dir: string | null): Promise<MailTemplates> {
  const templates = structuredClone(defaultMailTemplates);
  if (!dir) return templates;
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (err) {
    throw new MailTemplateError(`MAIL_TEMPLATES_DIR: cannot read the folder ${dir} (${(err as NodeJS.ErrnoException).code ?? err}).`);
  }
  const parts = { 'subject.txt': 'subject', txt: 'text', html: 'html' } as const;
  for (const file of files.sort()) {
    const match = /^([a-z_]+)\.(subject\.txt|txt|html)$/.exec(file);
    if (!match) continue;
    const [, kind, suffix] = match;
    const where = `MAIL_TEMPLATES_DIR: ${join(dir, file)}`;
    if (!MAIL_KINDS.includes(kind as MailKind)) {
      throw new MailTemplateError(`${where}: no mail kind "${kind}"; the kinds are ${MAIL_KINDS.join(', ')}.`);
    }
    const part = parts[suffix as keyof typeof parts];
    const text = await readFile(join(dir, file), 'utf8');
    templates[kind as MailKind][part] = checkTemplate(text, where, part === 'subject');
  }
  return templates;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The link as it appears in the HTML part (escaped), so that it can be found and removed there too. */
export const linkInHtml = escapeHtml;

function fill(template: string, variables: MailVariables, escape: (v: string) => string): string {
  return template.replace(PLACEHOLDER, (_, name: keyof MailVariables) => escape(String(variables[name])));
}

/** The mail of this kind for these values: subject and text as they are, HTML-escaped in the HTML part. */
export function renderMail(templates: MailTemplates, kind: MailKind, variables: MailVariables): MailTemplate {
  const template = templates[kind];
  return {
    subject: fill(template.subject, variables, (v) => v.replace(/[\r\n]+/g, ' ')),
    text: fill(template.text, variables, (v) => v),
    html: fill(template.html, variables, escapeHtml),
  };
}
