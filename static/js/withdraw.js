// "My account" (templates/customer/account.html): withdraw revenue from the vault. Each
// Withdraw button names the wallet account, the currency (pk) and the network (pk); the page
// connects a wallet, checks it is that account and on that network, asks the server to prepare
// RevenueVault.withdraw(currency), sends it, and follows it until the portal's sync has seen
// it, then shows what the account can withdraw now. Data comes from data- attributes and
// json_script (no inline script). Without JavaScript the buttons stay hidden.
import {
  connect,
  describeError,
  discoverWallets,
  ensureChain,
  errorCode,
  ErrorCodes,
  sendTransaction,
} from "./wallet.js";
import { getJSON, para, postJSON, sleep, txLink } from "./page.js";

const POLL_MS = 1000;
const DROPPED_AFTER = 3; // "dropped" answers in a row before we believe it (a slow node)

const root = document.getElementById("account");
const buttons = root ? [...root.querySelectorAll(".withdraw-button")] : [];

if (buttons.length) start();

function start() {
  const chains = JSON.parse(document.getElementById("account-chains").textContent);
  const status = document.getElementById("withdraw-status");
  const state = { provider: null, busy: false };

  for (const note of root.querySelectorAll(".withdraw-nojs")) note.hidden = true;
  for (const button of buttons) {
    button.hidden = false;
    button.addEventListener("click", () => withdrawFrom(button));
  }

  const show = (kind, ...lines) => {
    status.className = "withdraw-status" + (kind ? ` is-${kind}` : "");
    status.replaceChildren(...lines.map((line) => (typeof line === "string" ? para(line) : line)));
  };

  async function provider() {
    if (state.provider) return state.provider;
    const wallets = await discoverWallets();
    if (!wallets.length) return null;
    state.provider = wallets[0].provider; // the first announced wallet (or window.ethereum)
    return state.provider;
  }

  async function withdrawFrom(button) {
    if (state.busy) return;
    state.busy = true;
    for (const other of buttons) other.disabled = true;
    try {
      await withdraw(button);
    } catch (error) {
      show("error", describeError(error));
    } finally {
      state.busy = false;
      for (const other of buttons) other.disabled = false;
    }
  }

  async function withdraw(button) {
    const { account, currency, network, target, withdrawnTarget } = button.dataset;
    const chain = chains[network];
    show("", "Looking for a wallet in this browser…");
    const wallet = await provider();
    if (!wallet) {
      show(
        "error",
        "No wallet found in this browser. Withdrawing needs a browser wallet (MetaMask, Rabby, " +
          "Coinbase Wallet…): install one and reload this page.",
      );
      return;
    }
    let connected;
    try {
      connected = await connect(wallet);
    } catch (error) {
      show("error", describeError(error));
      return;
    }
    if (!connected || connected.toLowerCase() !== account.toLowerCase()) {
      show(
        "error",
        `Your wallet is on account ${connected || "(none)"}; the vault pays the account that ` +
          `sends the withdrawal. Switch to ${account} in your wallet, then press Withdraw again.`,
      );
      return;
    }
    try {
      await ensureChain(wallet, chain);
    } catch (error) {
      const words =
        errorCode(error) === ErrorCodes.USER_REJECTED
          ? `Your wallet did not switch to ${chain.chainName}: this revenue is held there. ` +
            "Switch networks in your wallet, then press Withdraw again."
          : describeError(error);
      show("error", words);
      return;
    }
    show("", "Preparing the withdrawal…");
    const answer = await postJSON(root.dataset.prepareUrl, { account, currency });
    if (!answer.ok) {
      show("error", answer.body.message || "The withdrawal could not be prepared.");
      return;
    }
    const { transaction: tx, summary } = answer.body;
    const line = para(`${summary.label}: confirm it in your wallet…`);
    show("", `Withdraw ${summary.amount} on ${summary.network} to ${summary.account}.`, line);
    let hash;
    try {
      hash = await sendTransaction(wallet, {
        from: tx.from,
        to: tx.to,
        data: tx.data,
        value: tx.value,
        chainId: tx.chainId,
      });
    } catch (error) {
      show("error", `${summary.label}: not sent. ${describeError(error)}`);
      return;
    }
    const query = new URLSearchParams({ currency, tx: hash, account });
    const url = `${root.dataset.statusUrl}?${query}`;
    let dropped = 0;
    for (;;) {
      const reply = await getJSON(url);
      const body = reply.body || {};
      if (reply.ok) {
        const st = body.status;
        dropped = st === "dropped" ? dropped + 1 : 0;
        const words = {
          pending: "pending (waiting to be mined)",
          mined: "mined, waiting for the portal to see it",
          confirmed: "confirmed",
          reverted: "reverted",
          dropped: dropped >= DROPPED_AFTER ? "dropped" : "pending (the network is looking for it)",
        }[st];
        line.replaceChildren(`${summary.label}: ${words || st} · `, txLink(hash, body.explorer_url));
        if (st === "confirmed") {
          const cell = document.getElementById(target);
          if (cell && body.withdrawable) cell.textContent = body.withdrawable;
          const sum = document.getElementById(withdrawnTarget);
          if (sum && body.withdrawn) sum.textContent = body.withdrawn;
          const done = document.createElement("span");
          done.className = "help";
          done.textContent = "Withdrawn";
          button.replaceWith(done);
          show("done", `Done: ${summary.amount} sent to ${summary.account}.`, line);
          return;
        }
        if (st === "reverted") {
          show("error", `Reverted: ${body.reason || body.message}`, line);
          return;
        }
        if (st === "dropped" && dropped >= DROPPED_AFTER) {
          show("error", body.message, line);
          return;
        }
      } else if (reply.status !== 503) {
        show("error", body.message || "The portal could not follow the transaction.", line);
        return;
      }
      await sleep(POLL_MS);
    }
  }
}
