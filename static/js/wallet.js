// The portal's wallet module: EIP-1193 requests, EIP-6963 discovery, plain-words errors.
// No crypto library: the wallet signs; the server prepares and checks.
//
//   import { discoverWallets, connect, ensureChain, sendTransaction, personalSign,
//            describeError } from "./wallet.js";
//   const [found] = await discoverWallets();          // [{info, provider}, ...]
//   const account = await connect(found.provider);    // eth_requestAccounts
//   await ensureChain(found.provider, { chainId: 31337, chainName: "anvil", ... });
//   const hash = await sendTransaction(found.provider, { from: account, to, data, value });
//   const signature = await personalSign(found.provider, account, "Sign in to ...");

const DISCOVERY_MS = 300;

// EIP-1193 and JSON-RPC error codes, by name.
export const ErrorCodes = Object.freeze({
  USER_REJECTED: 4001,
  UNAUTHORIZED: 4100,
  UNSUPPORTED_METHOD: 4200,
  DISCONNECTED: 4900,
  CHAIN_DISCONNECTED: 4901,
  UNRECOGNIZED_CHAIN: 4902,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  RESOURCE_UNAVAILABLE: -32002,
});

// An error this module raises itself (no wallet, a wallet that cannot add the network).
export class WalletError extends Error {
  constructor(code, message, data) {
    super(message);
    this.name = "WalletError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

// Wallets in the page: EIP-6963 announcements collected for `timeout` ms, else window.ethereum.
// Resolves to [{info: {uuid, name, icon, rdns}, provider}], possibly empty.
export function discoverWallets({ timeout = DISCOVERY_MS } = {}) {
  return new Promise((resolve) => {
    const found = new Map();
    const onAnnounce = (event) => {
      const detail = event.detail;
      if (!detail || !detail.provider || typeof detail.provider.request !== "function") return;
      const info = detail.info || {};
      const key = info.uuid || info.rdns || String(found.size);
      if (!found.has(key)) found.set(key, { info, provider: detail.provider });
    };
    window.addEventListener("eip6963:announceProvider", onAnnounce);
    window.dispatchEvent(new Event("eip6963:requestProvider"));
    setTimeout(() => {
      window.removeEventListener("eip6963:announceProvider", onAnnounce);
      const wallets = [...found.values()];
      if (!wallets.length && window.ethereum && typeof window.ethereum.request === "function") {
        const info = { uuid: "window.ethereum", name: "Browser wallet", icon: "", rdns: "" };
        wallets.push({ info, provider: window.ethereum });
      }
      resolve(wallets);
    }, timeout);
  });
}

// Ask the wallet for an account; resolves to the first one (the one the person chose).
export async function connect(provider) {
  const accounts = await provider.request({ method: "eth_requestAccounts" });
  if (!accounts || !accounts.length) {
    throw new WalletError(ErrorCodes.UNAUTHORIZED, "The wallet gave no account.");
  }
  return accounts[0];
}

export async function currentChainId(provider) {
  return Number.parseInt(await provider.request({ method: "eth_chainId" }), 16);
}

export function toHexNumber(value) {
  return "0x" + BigInt(value).toString(16);
}

// Make sure the wallet is on `chain.chainId` (a number or 0x-hex): switch, or add the network
// (when it has rpcUrls) and switch. Rejections propagate (describeError says what they mean).
export async function ensureChain(provider, chain) {
  const wanted = toHexNumber(chain.chainId);
  if (toHexNumber(await currentChainId(provider)) === wanted) return;
  try {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: wanted }] });
  } catch (error) {
    if (errorCode(error) !== ErrorCodes.UNRECOGNIZED_CHAIN) throw error;
    const rpcUrls = chain.rpcUrls || [];
    if (!rpcUrls.length) {
      throw new WalletError(
        ErrorCodes.UNRECOGNIZED_CHAIN,
        `Your wallet does not know the network ${chain.chainName || ""} (chain id ` +
          `${Number.parseInt(wanted, 16)}). Add it in your wallet, then try again.`,
      );
    }
    const params = { chainId: wanted, chainName: chain.chainName, rpcUrls };
    if (chain.nativeCurrency) params.nativeCurrency = chain.nativeCurrency;
    if (chain.blockExplorerUrls && chain.blockExplorerUrls.length) {
      params.blockExplorerUrls = chain.blockExplorerUrls;
    }
    await provider.request({ method: "wallet_addEthereumChain", params: [params] });
    if (toHexNumber(await currentChainId(provider)) !== wanted) {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: wanted }] });
    }
  }
}

// Send a prepared transaction ({from, to, data, value, chainId} as 0x-hex); resolves to its hash.
export async function sendTransaction(provider, tx) {
  return provider.request({ method: "eth_sendTransaction", params: [tx] });
}

// personal_sign of a UTF-8 message (EIP-191); resolves to the 0x signature.
export async function personalSign(provider, address, message) {
  const hex = [...new TextEncoder().encode(message)]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  return provider.request({ method: "personal_sign", params: ["0x" + hex, address] });
}

// The EIP-1193 code of an error, looking inside wallets' wrappers (MetaMask nests the original).
export function errorCode(error) {
  if (!error) return undefined;
  const nested = error.data && error.data.originalError;
  if (error.code === ErrorCodes.INTERNAL && nested && nested.code === ErrorCodes.UNRECOGNIZED_CHAIN) {
    return ErrorCodes.UNRECOGNIZED_CHAIN;
  }
  return error.code;
}

// Revert data (0x-hex) an error carries, if any: a contract refused the transaction at
// estimation. Decode it on the server (no ABI here).
export function revertData(error) {
  const seen = new Set();
  const walk = (value, depth) => {
    if (value === null || value === undefined || depth > 4 || seen.has(value)) return null;
    if (typeof value === "string") return /^0x([0-9a-fA-F]{8})([0-9a-fA-F]{2})*$/.test(value) ? value : null;
    if (typeof value !== "object") return null;
    seen.add(value);
    for (const key of ["data", "originalError", "error", "cause"]) {
      const found = walk(value[key], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return walk(error, 0);
}

// What went wrong, in plain words (for the page's status area).
export function describeError(error) {
  const code = errorCode(error);
  switch (code) {
    case ErrorCodes.USER_REJECTED:
      return "You rejected the request in your wallet.";
    case ErrorCodes.UNAUTHORIZED:
      return "Your wallet has not allowed this site to use that account: connect it again.";
    case ErrorCodes.UNSUPPORTED_METHOD:
      return "Your wallet does not support this request.";
    case ErrorCodes.DISCONNECTED:
      return "Your wallet is not connected to any network: reconnect it and try again.";
    case ErrorCodes.CHAIN_DISCONNECTED:
      return "Your wallet is not connected to this network: switch networks in your wallet.";
    case ErrorCodes.UNRECOGNIZED_CHAIN:
      return error instanceof WalletError
        ? error.message
        : "Your wallet does not know this network: add it in your wallet, then try again.";
    case ErrorCodes.RESOURCE_UNAVAILABLE:
      return "A request is already pending in your wallet: open your wallet to answer it.";
    case ErrorCodes.INVALID_PARAMS:
      return `Your wallet refused the request: ${messageOf(error)}`;
    case ErrorCodes.INTERNAL:
      if (revertData(error)) return "The contract would refuse this transaction; nothing was sent.";
      return `Your wallet reported an error: ${messageOf(error)}`;
    default:
      if (revertData(error)) return "The contract would refuse this transaction; nothing was sent.";
      if (error instanceof WalletError) return error.message;
      return `Something went wrong in your wallet: ${messageOf(error)}`;
  }
}

function messageOf(error) {
  const nested = error && error.data && typeof error.data === "object" ? error.data.message : "";
  return nested || (error && error.message) || "no reason given.";
}
