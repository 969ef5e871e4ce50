// Sign-In with Ethereum on the sign-in page: find the wallet, ask the server for a nonce and
// the message (bound to this session), have the wallet sign it (personal_sign), send it back.
import { connect, currentChainId, describeError, discoverWallets, ensureChain, personalSign } from "./wallet.js";

const root = document.getElementById("siwe");
const statusLine = document.getElementById("siwe-status");
const chains = JSON.parse(document.getElementById("siwe-chains").textContent || "[]");

function say(text, kind = "info") {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

function csrfToken() {
  const field = root.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

class ServerError extends Error {
  constructor(body, status) {
    super(body.message || `The portal answered ${status}.`);
    this.code = body.code || "";
  }
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ServerError(data, response.status);
  return data;
}

async function onChainWeKnow(provider) {
  const chainId = await currentChainId(provider);
  if (!chains.length || chains.some(([id]) => id === chainId)) return chainId;
  const [id, name] = chains[0];
  say(`Your wallet is on chain ${chainId}; asking it to switch to ${name}…`);
  await ensureChain(provider, { chainId: id, chainName: name });
  return currentChainId(provider);
}

async function signIn(provider) {
  try {
    say("Waiting for your wallet to share an account…");
    const address = await connect(provider);
    const chainId = await onChainWeKnow(provider);
    const challenge = await post(root.dataset.nonceUrl, { chain_id: chainId, address });
    say("Sign the message in your wallet to prove the address is yours…");
    const signature = await personalSign(provider, address, challenge.message);
    say("Checking the signature…");
    const result = await post(root.dataset.verifyUrl, {
      message: challenge.message,
      signature,
      process: root.dataset.process,
      next: root.dataset.next || null,
    });
    say(result.connected ? "Wallet linked." : "Signed in.", "ok");
    window.location.assign(result.redirect);
  } catch (error) {
    say(error instanceof ServerError ? error.message : describeError(error), "error");
  }
}

async function start() {
  say("Looking for a wallet in this browser…");
  const wallets = await discoverWallets();
  if (!wallets.length) {
    say("No wallet found in this browser. Install a wallet extension, then reload this page.", "error");
    return;
  }
  const list = root.querySelector(".wallet-list");
  for (const { info, provider } of wallets) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button wallet-button";
    if (info.icon && info.icon.startsWith("data:image/")) {
      const icon = document.createElement("img");
      icon.src = info.icon;
      icon.alt = "";
      icon.width = 24;
      icon.height = 24;
      button.append(icon);
    }
    const verb = root.dataset.process === "connect" ? "Link" : "Sign in with";
    button.append(`${verb} ${info.name || "your wallet"}`);
    button.addEventListener("click", () => signIn(provider));
    item.append(button);
    list.append(item);
  }
  root.querySelector(".siwe-wallets").hidden = false;
  say("");
}

start();
