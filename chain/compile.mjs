#!/usr/bin/env node
// Compile chain/contracts/**/*.sol with the pinned npm `solc` (solc-js, no download) into
// chain/artifacts/<ContractName>.json: one deterministic file per deployable contract.
//
//   node chain/compile.mjs               write chain/artifacts/ (and delete stale artifacts)
//   node chain/compile.mjs --out DIR     write the artifacts into DIR instead
//   node chain/compile.mjs --check       compile into a temporary directory and exit 1 when
//                                        the committed chain/artifacts/ differ from it
//
// Output is reproducible: pinned compiler and settings, source unit names relative to chain/
// ("contracts/LicenseToken.sol", "@openzeppelin/contracts/..."), keys sorted, two-space
// indentation, a trailing newline, no timestamps or absolute paths. The metadata hash stays
// in the bytecode (it lets explorers verify sources) and is itself a hash of the above.

import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const CHAIN_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(CHAIN_DIR);
const CONTRACTS_DIR = path.join(CHAIN_DIR, "contracts");
const ARTIFACTS_DIR = path.join(CHAIN_DIR, "artifacts");
const NODE_MODULES = path.join(ROOT, "node_modules");

// Pinned settings. Changing any of these changes every artifact (and the check catches it).
export const SETTINGS = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  viaIR: false,
  metadata: { bytecodeHash: "ipfs", useLiteralContent: false },
};

function walk(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(full));
    else if (entry.isFile() && entry.name.endsWith(".sol")) found.push(full);
  }
  return found;
}

function unitName(file) {
  return path.relative(CHAIN_DIR, file).split(path.sep).join("/");
}

function readUnit(name) {
  // Source unit names are either ours ("contracts/...") or a package under node_modules.
  const base = name.startsWith("contracts/") ? CHAIN_DIR : NODE_MODULES;
  const full = path.resolve(base, name);
  if (!full.startsWith(base + path.sep)) throw new Error(`import escapes its root: ${name}`);
  return fs.readFileSync(full, "utf8");
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

function sha256(text) {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export function compile() {
  const units = walk(CONTRACTS_DIR).map(unitName).sort();
  if (units.length === 0) throw new Error(`no .sol files under ${CONTRACTS_DIR}`);
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(units.map((name) => [name, { content: readUnit(name) }])),
    settings: {
      ...SETTINGS,
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode", "evm.deployedBytecode", "metadata"] },
      },
    },
  };
  const texts = new Map(units.map((name) => [name, input.sources[name].content]));
  const findImports = (name) => {
    try {
      const content = readUnit(name);
      texts.set(name, content);
      return { contents: content };
    } catch (error) {
      return { error: `${name}: ${error.message}` };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  // Errors anywhere, and warnings in our own sources, fail the build. Warnings inside the
  // pinned OpenZeppelin release are counted, not printed: we cannot act on them.
  const ours = (problem) => (problem.sourceLocation?.file || "contracts/").startsWith("contracts/");
  const problems = (output.errors || []).filter(
    (problem) => problem.severity === "error" || (problem.severity === "warning" && ours(problem)),
  );
  for (const problem of problems) {
    process.stderr.write(problem.formattedMessage || `${problem.severity}: ${problem.message}\n`);
  }
  if (problems.length) throw new Error("compilation failed (errors, or warnings in chain/contracts)");

  const version = solc.version().replace(/\.Emscripten.*$/, "");
  const artifacts = new Map();
  for (const sourceName of units) {
    for (const [contractName, contract] of Object.entries(output.contracts[sourceName] || {})) {
      const bytecode = contract.evm.bytecode.object;
      if (!bytecode) continue; // interfaces and abstract contracts are not deployable
      if (Object.keys(contract.evm.bytecode.linkReferences || {}).length) {
        throw new Error(`${contractName}: external libraries are not supported`);
      }
      if (artifacts.has(contractName)) {
        throw new Error(`two contracts named ${contractName}: artifact names must be unique`);
      }
      // The sources this contract was built from (its import closure), hashed in order.
      const closure = Object.keys(JSON.parse(contract.metadata).sources).sort();
      const digest = createHash("sha256");
      for (const name of closure) digest.update(`${name}\0${sha256(texts.get(name))}\n`);
      artifacts.set(contractName, {
        contractName,
        sourceName,
        abi: contract.abi,
        bytecode: `0x${bytecode}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
        compiler: { name: "solc", version, settings: SETTINGS },
        sources: closure,
        sourcesSha256: digest.digest("hex"),
      });
    }
  }
  return artifacts;
}

export function render(artifact) {
  return `${JSON.stringify(sortKeys(artifact), null, 2)}\n`;
}

function write(artifacts, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const wanted = new Set();
  for (const [name, artifact] of artifacts) {
    const file = `${name}.json`;
    wanted.add(file);
    const target = path.join(dir, file);
    const text = render(artifact);
    if (!fs.existsSync(target) || fs.readFileSync(target, "utf8") !== text) {
      fs.writeFileSync(target, text);
    }
  }
  for (const file of fs.readdirSync(dir)) {
    if (file.endsWith(".json") && !wanted.has(file)) fs.rmSync(path.join(dir, file));
  }
  return [...wanted].sort();
}

function diff(expectedDir, actualDir) {
  const list = (dir) =>
    fs.existsSync(dir) ? fs.readdirSync(dir).filter((file) => file.endsWith(".json")) : [];
  const expected = new Set(list(expectedDir));
  const actual = new Set(list(actualDir));
  const problems = [];
  for (const file of [...expected].sort()) {
    if (!actual.has(file)) problems.push(`missing: chain/artifacts/${file}`);
    else if (
      fs.readFileSync(path.join(expectedDir, file), "utf8") !==
      fs.readFileSync(path.join(actualDir, file), "utf8")
    ) {
      problems.push(`differs: chain/artifacts/${file}`);
    }
  }
  for (const file of [...actual].sort()) {
    if (!expected.has(file)) problems.push(`stale (no source): chain/artifacts/${file}`);
  }
  return problems;
}

function main(argv) {
  const check = argv.includes("--check");
  const outIndex = argv.indexOf("--out");
  const isOutDir = (i) => outIndex >= 0 && i === outIndex + 1;
  const unknown = argv.filter((arg, i) => !["--check", "--out"].includes(arg) && !isOutDir(i));
  if (unknown.length || (outIndex >= 0 && !argv[outIndex + 1]) || (check && outIndex >= 0)) {
    process.stderr.write("usage: node chain/compile.mjs [--out DIR | --check]\n");
    return 2;
  }
  const artifacts = compile();
  if (check) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "contracts-check-"));
    try {
      write(artifacts, tmp);
      const problems = diff(tmp, ARTIFACTS_DIR);
      if (problems.length) {
        process.stderr.write(`${problems.join("\n")}\nrun \`make contracts\` and commit.\n`);
        return 1;
      }
      process.stderr.write(`chain/artifacts: ${artifacts.size} artifacts match the sources\n`);
      return 0;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const dir = outIndex >= 0 ? path.resolve(argv[outIndex + 1]) : ARTIFACTS_DIR;
  const written = write(artifacts, dir);
  process.stderr.write(`${written.length} artifacts in ${path.relative(ROOT, dir) || dir}\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}
