// The app's own data that points at a user: declared in LINKED_DATA_FILE, checked against the
// catalog at start, counted for the API and purged on request together with the user.
export { checkLinkedData, loadLinkedDataFile, type LinkedTable } from './catalog.js';
export { parseDeclarations, readDeclarationsFile, type LinkedDataDeclaration, type ParsedDeclaration } from './declarations.js';
export { LinkedDataError, LinkedDataPurgeError, PurgeNotAllowedError } from './errors.js';
export { countLinkedRows, purgeLinkedRows, type LinkedDataCount } from './repository.js';
