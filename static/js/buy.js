// The buy page (templates/market/buy.html): connect a wallet, make sure it is on the offer's
// network, ask the server to prepare the transactions, send each in order and follow it until
// the portal's sync has seen the purchase. Data comes from data- attributes and json_script.
import {
  connect,
  describeError,
  discoverWallets,
  ensureChain,
  errorCode,
  ErrorCodes,
  revertData,
  sendTransaction,
} from "./wallet.js";
import { code, getJSON, para, postJSON, sleep, txLink } from "./page.js";

const POLL_MS = 1000;
const DROPPED_AFTER = 3; // "dropped" answers in a row before we believe it (a slow node)

const root = document.getElementById("buy");
const form = document.getElementById("buy-form");

if (root && form && root.dataset.onSale === "true") start();

function start() {
  const chain = JSON.parse(document.getElementById("buy-chain").textContent);
  const status = document.getElementById("buy-status");
  const connectButton = document.getElementById("buy-connect");
  const buyButton = document.getElementById("buy-submit");
  const walletLine = document.getElementById("buy-wallet");
  const picker = document.getElementById("buy-wallets");
  const amountInput = document.getElementById("buy-amount");
  const state = { provider: null, account: null, busy: false };

  form.hidden = false;
  for (const note of root.querySelectorAll(".buy-nojs")) note.hidden = true;
  form.addEventListener("submit", (event) => event.preventDefault());

  const show = (kind, ...lines) => {
    status.className = "buy-status" + (kind ? ` is-${kind}` : "");
    status.replaceChildren(...lines.map((line) => (typeof line === "string" ? para(line) : line)));
  };

  const useProvider = async (provider) => {
    picker.hidden = true;
    state.provider = provider;
    state.account = await connect(provider);
    walletLine.replaceChildren("Connected: ", code(state.account));
    connectButton.textContent = "Change wallet";
    buyButton.disabled = false;
    buyButton.focus();
    show("", "Wallet connected. Check the amount, then press Buy.");
    if (provider.on) {
      provider.on("accountsChanged", (accounts) => {
        state.account = accounts && accounts.length ? accounts[0] : null;
        if (state.account) walletLine.replaceChildren("Connected: ", code(state.account));
        else walletLine.textContent = "No wallet connected.";
        buyButton.disabled = !state.account;
      });
    }
  };

  connectButton.addEventListener("click", async () => {
    show("", "Looking for wallets in this browser…");
    try {
      const wallets = await discoverWallets();
      if (!wallets.length) {
        show(
          "error",
          "No wallet found in this browser. Install a wallet extension (MetaMask, Rabby, " +
            "Coinbase Wallet…) and reload this page.",
        );
        return;
      }
      if (wallets.length === 1) {
        await useProvider(wallets[0].provider);
        return;
      }
      picker.replaceChildren(
        ...wallets.map(({ info, provider }) => {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = info.name || "Wallet";
          button.addEventListener("click", () =>
            useProvider(provider).catch((error) => show("error", describeError(error))),
          );
          return button;
        }),
      );
      picker.hidden = false;
      show("", "Several wallets are installed: pick one.");
    } catch (error) {
      show("error", describeError(error));
    }
  });

  buyButton.addEventListener("click", async () => {
    if (state.busy || !state.provider) return;
    state.busy = true;
    buyButton.disabled = true;
    try {
      await buy();
    } finally {
      state.busy = false;
      buyButton.disabled = !state.account;
    }
  });

  async function buy() {
    show("", `Checking that your wallet is on ${chain.chainName}…`);
    try {
      await ensureChain(state.provider, chain);
    } catch (error) {
      const words =
        errorCode(error) === ErrorCodes.USER_REJECTED
          ? `Your wallet did not switch to ${chain.chainName} (chain id ${Number(chain.chainId)}): ` +
            "this offer is sold there. Switch networks in your wallet, then press Buy again."
          : describeError(error);
      show("error", words);
      return;
    }
    show("", "Preparing the transaction…");
    const amount = amountInput ? amountInput.value : "1";
    const answer = await postJSON(root.dataset.prepareUrl, { buyer: state.account, amount });
    if (!answer.ok) {
      show("error", answer.body.message || "The purchase could not be prepared.");
      return;
    }
    const { transactions, summary } = answer.body;
    const steps = document.createElement("ol");
    const items = transactions.map((tx) => {
      const item = document.createElement("li");
      item.textContent = tx.label;
      steps.append(item);
      return item;
    });
    for (const [index, tx] of transactions.entries()) {
      const last = index === transactions.length - 1;
      show("", `${summary.label}: ${summary.gets} Total ${summary.total}.`, ...summary.renewal, steps);
      items[index].textContent = `${tx.label}: confirm it in your wallet…`;
      let hash;
      try {
        hash = await sendTransaction(state.provider, wireTx(tx));
      } catch (error) {
        items[index].textContent = `${tx.label}: not sent.`;
        show("error", await walletFailure(error), steps);
        return;
      }
      const ended = await follow(hash, tx.label, items[index], last ? "confirmed" : "mined");
      if (!ended) {
        show("error", items[index].lastReason, steps);
        return;
      }
    }
    show("done", `Done: ${summary.gets}`, steps);
  }

  // Poll the status endpoint until `goal` ("mined" or "confirmed"); false on a failure.
  async function follow(hash, label, item, goal) {
    let dropped = 0;
    for (;;) {
      const answer = await getJSON(`${root.dataset.statusUrl}?tx=${encodeURIComponent(hash)}`);
      const body = answer.body || {};
      if (answer.ok) {
        const st = body.status;
        dropped = st === "dropped" ? dropped + 1 : 0;
        const words = {
          pending: "pending (waiting to be mined)",
          mined: goal === "mined" ? "mined" : "mined, waiting for the portal to see it",
          confirmed: "confirmed",
          reverted: "reverted",
          dropped: dropped >= DROPPED_AFTER ? "dropped" : "pending (the network is looking for it)",
        }[st];
        item.replaceChildren(`${label}: ${words || st} · `, txLink(hash, body.explorer_url));
        if (st === "confirmed" || (goal === "mined" && st === "mined")) return true;
        if (st === "reverted") {
          item.lastReason = `Reverted: ${body.reason || "the contract refused it; nothing was bought."}`;
          return false;
        }
        if (st === "dropped" && dropped >= DROPPED_AFTER) {
          item.lastReason =
            "Dropped: the network no longer knows this transaction and it was never mined; " +
            "nothing was charged. Press Buy to try again.";
          return false;
        }
      } else if (answer.status !== 503) {
        item.lastReason = body.message || "The portal could not follow the transaction.";
        return false;
      }
      await sleep(POLL_MS);
    }
  }

  async function walletFailure(error) {
    const data = revertData(error);
    if (data) {
      const url = `${root.dataset.explainUrl}?data=${encodeURIComponent(data)}`;
      const answer = await getJSON(url);
      if (answer.ok && answer.body.reason) {
        return `Your wallet says the contract would refuse it: ${answer.body.reason}`;
      }
    }
    return describeError(error);
  }
}

function wireTx(tx) {
  return { from: tx.from, to: tx.to, data: tx.data, value: tx.value, chainId: tx.chainId };
}
