// The dependency rule of src/ (README, Layout): no two top-level folders or files of src/ import
// each other, directly or around a loop, type-only imports included. Every import is read with
// TypeScript's own parser: `import … from`, `import type`, `export … from`, side-effect imports,
// dynamic `import()` and `import('…').Type`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Cycles allowed between top-level parts of src/: none. An entry here must say why, and the last test fails on one whose cycle is gone. */
const KNOWN_CYCLES: readonly string[] = [];

/** Every module specifier a source file imports or re-exports, statically, by type or dynamically. */
export function importedSpecifiers(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, fileName.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expression = node.moduleReference.expression;
      if (ts.isStringLiteral(expression)) found.push(expression.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) found.push(argument.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The top-level part of src/ a path inside it belongs to: `auth/` for a folder, `app.ts` for a file. */
function partOf(srcRelative: string): string {
  const [first, ...rest] = srcRelative.split('/');
  return rest.length > 0 ? `${first}/` : first!.replace(/\.js$/, '.ts');
}

/** Which parts of src/ import which, and through which files. */
function partGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(SRC)) {
    const fromPath = relative(SRC, file).split(sep).join('/');
    const from = partOf(fromPath);
    for (const specifier of importedSpecifiers(file, readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = posix.normalize(posix.join(posix.dirname(fromPath), specifier));
      if (target.startsWith('..')) continue;
      const to = partOf(target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [...(edges.get(to) ?? []), `${fromPath} → ${specifier}`]);
    }
  }
  return graph;
}

/** Every elementary cycle of the graph, each written from its smallest part: `a → b → a`. */
function cyclesOf(graph: Map<string, Map<string, string[]>>): string[] {
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((edges) => [...edges.keys()])])].sort();
  const cycles: string[] = [];
  for (const start of nodes) {
    // Only cycles whose smallest part is `start`, so each is found once.
    const walk = (node: string, path: string[]) => {
      for (const next of graph.get(node)?.keys() ?? []) {
        if (next === start) cycles.push([...path, start].join(' → '));
        else if (next > start && !path.includes(next)) walk(next, [...path, next]);
      }
    };
    walk(start, [start]);
  }
  return cycles.sort();
}

describe('the layout of src/', () => {
  it('reads every kind of import', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from '../b/index.js';",
      "import {\n  c,\n  type C,\n} from './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "import './f.js';",
      "const g = await import('./g.js');",
      "type H = import('./h.js').H;",
      "// import x from './not-an-import.js';",
      "const text = \"import y from './not-either.js'\";",
    ].join('\n');
    expect(importedSpecifiers('x.ts', text)).toEqual(['./a.js', '../b/index.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js']);
  });

  const graph = partGraph();
  const cycles = cyclesOf(graph);
  const via = (cycle: string) => {
    const parts = cycle.split(' → ');
    return parts.slice(1).map((to, i) => `  ${parts[i]} → ${to}: ${graph.get(parts[i]!)!.get(to)!.join(', ')}`).join('\n');
  };

  it('finds the imports between the parts of src/', () => {
    expect(graph.get('app.ts')?.has('http/')).toBe(true);
    expect(graph.get('schema/')?.has('context.ts')).toBe(true);
  });

  it('has no two parts that import each other, directly or around a loop', () => {
    const added = cycles.filter((cycle) => !KNOWN_CYCLES.includes(cycle));
    expect(added.map((cycle) => `${cycle}\n${via(cycle)}`)).toEqual([]);
  });

  it('lists no known cycle that is gone', () => {
    expect(KNOWN_CYCLES.filter((cycle) => !cycles.includes(cycle))).toEqual([]);
  });
});
