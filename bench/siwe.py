"""Sign-In with Ethereum: what a whole sign-in costs the portal next to the one signature
recovery it cannot avoid.

A throwaway SQLite database; a pool of wallets (fresh keys) that signed in once already, so
each timed sign-in is a returning customer's. One sign-in is ``POST /api/auth/siwe/nonce``
plus ``POST /api/auth/siwe/verify`` through Django's test client (sessions, the nonce row,
allauth's login and the session rotation included; the wallet's own signing in between is
not the portal's work and is left out). The baseline is ``Account.recover_message`` of the
same kind of message (eth-keys on coincurve), interleaved in the same process.
"""

from __future__ import annotations

import time

from bench._common import Timing, case, migrate, setup_django

TARGET = ">=0.25"
QUICK = {"wallets": 20, "rounds": 150, "budget_s": 30.0}
FULL = {"wallets": 100, "rounds": 1500, "budget_s": 150.0}
CHAIN_ID = 31337


def run(quick: bool) -> list[dict]:
    setup_django()
    migrate()

    from django.test import Client, override_settings
    from eth_account import Account
    from eth_account.messages import encode_defunct
    from eth_keys.backends import get_backend

    from chain.models import Network
    from portal.tests.siwe_kit import NONCE_URL, VERIFY_URL, Wallet

    params = QUICK if quick else FULL
    backend = type(get_backend()).__name__
    if backend != "CoinCurveECCBackend":
        raise RuntimeError(f"eth-keys runs on {backend}, not coincurve")
    Network.objects.get_or_create(name="bench-siwe", defaults={"chain_id": CHAIN_ID})
    wallets = [Wallet() for _ in range(params["wallets"])]
    timings: dict[str, list[float]] = {
        "sign_in": [], "nonce": [], "verify": [], "recover": [], "two_empty_requests": [],
    }  # fmt: skip

    def sign_in(wallet: Wallet, record: bool) -> None:
        client = Client(HTTP_HOST="localhost")
        t0 = time.perf_counter()
        issued = client.post(
            NONCE_URL, {"chain_id": CHAIN_ID, "address": wallet.address}, "application/json"
        )
        nonce_ms = (time.perf_counter() - t0) * 1000
        message = issued.json()["message"]
        signature = wallet.sign(message)
        body = {"message": message, "signature": signature}
        t0 = time.perf_counter()
        response = client.post(VERIFY_URL, body, "application/json")
        verify_ms = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or response.json()["address"] != wallet.address:
            raise RuntimeError(f"sign-in failed: {response.status_code} {response.content[:300]}")
        if record:
            timings["nonce"].append(nonce_ms)
            timings["verify"].append(verify_ms)
            timings["sign_in"].append(nonce_ms + verify_ms)
        # the baseline: one recovery of this very message
        signable = encode_defunct(text=message)
        t0 = time.perf_counter()
        recovered = Account.recover_message(signable, signature=signature)
        if record:
            timings["recover"].append((time.perf_counter() - t0) * 1000)
        if recovered != wallet.address:
            raise RuntimeError("recover_message gave another address")
        # context: two requests through the same middleware that do nothing (405)
        t0 = time.perf_counter()
        client.options(NONCE_URL)
        client.options(VERIFY_URL)
        if record:
            timings["two_empty_requests"].append((time.perf_counter() - t0) * 1000)

    unlimited = {"SIWE_RATE_PER_CLIENT": "1000000/m", "SIWE_RATE_PER_WALLET": "1000000/m"}
    with override_settings(**unlimited):
        for wallet in wallets:  # each signs up once: the timed sign-ins are returning ones
            sign_in(wallet, record=False)
        started = time.perf_counter()
        for done in range(params["rounds"]):
            if time.perf_counter() - started > params["budget_s"] and done >= 20:
                break
            sign_in(wallets[done % len(wallets)], record=True)

    result = {name: Timing(values) for name, values in timings.items()}
    sign_ins_per_s = 1000 / result["sign_in"].median_ms
    recovers_per_s = 1000 / result["recover"].median_ms
    return [
        case(
            "siwe.sign_ins_vs_recover",
            ratio=sign_ins_per_s / recovers_per_s,
            target=TARGET,
            detail={
                "meaning": "sign-ins/s through nonce + verify (test client) / recover_message/s",
                "floor": "two_empty_requests: two OPTIONS through the same middleware (405), "
                "what any two requests cost before a view runs",
                "mode": "quick" if quick else "full",
                "backend": backend,
                "wallets": len(wallets),
                "sign_ins_per_s": round(sign_ins_per_s, 1),
                "recovers_per_s": round(recovers_per_s, 1),
                **{name: timing.summary() for name, timing in result.items()},
                "database": "sqlite (throwaway)",
            },
        )
    ]
