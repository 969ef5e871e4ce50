// The governance tab (templates/market/governance.html): a holder votes by signing the ballot's
// EIP-712 typed data with the browser wallet (eth_signTypedData_v4: no crypto library here).
// The portal gives the typed data (stamped with its time) and takes the signature back; the
// answer says what the vote weighs (its shares at the snapshot block). Without JavaScript the
// buttons stay hidden.
import { connect, describeError, discoverWallets, ensureChain } from "./wallet.js";
import { getJSON, postJSON } from "./page.js";

const root = document.getElementById("governance");
const chains = JSON.parse(document.getElementById("governance-chains")?.textContent || "{}");
const state = { provider: null, busy: false };

if (root) {
  for (const article of root.querySelectorAll(".proposal[data-proposal]")) {
    const buttons = article.querySelector(".vote-buttons");
    if (!buttons) continue;
    buttons.hidden = false;
    article.querySelector(".vote-nojs")?.remove();
    for (const button of buttons.querySelectorAll(".vote-button")) {
      button.addEventListener("click", () => vote(article, Number(button.dataset.support)));
    }
  }
}

async function provider() {
  if (state.provider) return state.provider;
  const wallets = await discoverWallets();
  state.provider = wallets.length ? wallets[0].provider : null;
  return state.provider;
}

function say(article, text, kind = "info") {
  const line = article.querySelector(".vote-status");
  line.textContent = text;
  line.dataset.kind = kind;
}

async function vote(article, support) {
  if (state.busy) return;
  state.busy = true;
  const buttons = [...article.querySelectorAll(".vote-button")];
  for (const button of buttons) button.disabled = true;
  try {
    await castBallot(article, support);
  } catch (error) {
    say(article, describeError(error), "error");
  } finally {
    state.busy = false;
    for (const button of buttons) button.disabled = false;
  }
}

async function castBallot(article, support) {
  const id = article.dataset.proposal;
  const base = root.dataset.ballotUrl + id;
  say(article, "Looking for a wallet in this browser…");
  const wallet = await provider();
  if (!wallet) {
    say(article, "No wallet found in this browser: voting needs a browser wallet (MetaMask, Rabby…).", "error");
    return;
  }
  const account = await connect(wallet);
  const chain = chains[article.dataset.chain];
  if (chain) await ensureChain(wallet, chain);
  const typed = await getJSON(`${base}/ballot?support=${support}`);
  if (!typed.ok) {
    say(article, typed.body.message || "The ballot could not be prepared.", "error");
    return;
  }
  say(article, "Sign the ballot in your wallet…");
  const signature = await wallet.request({
    method: "eth_signTypedData_v4",
    params: [account, JSON.stringify(typed.body)],
  });
  const answer = await postJSON(`${base}/ballots`, {
    voter: account,
    support,
    issued_at: typed.body.message.issuedAt,
    signature,
  });
  if (!answer.ok) {
    say(article, answer.body.message || "The vote was not accepted.", "error");
    return;
  }
  say(article, answer.body.message, "done");
}
