"""A JSON-RPC proxy that acts like a strict hosted provider for ``eth_getLogs``.

Tests and benchmarks put :class:`LimitingRpcProxy` between the sync engine and a real node
(anvil). Every request is forwarded to the node and its answer returned verbatim, except that
``eth_getLogs`` is refused the way hosted providers refuse it:

* a block range wider than ``max_block_range`` gets a range error, in one of the message styles
  of :data:`RANGE_ERROR_STYLES` (rotating deterministically);
* more than ``max_results`` logs get a result-count error with a suggested block range, which is
  correct except with probability ``bogus_hint_rate`` (see :data:`BOGUS_HINT_KINDS`).

``strip_block_timestamps`` answers logs without their ``blockTimestamp``, as nodes that predate
that field do. ``fail_next`` injects transient failures (HTTP 503 or a JSON-RPC -32603 error). The
proxy counts
what it served, so a benchmark can compare the ``eth_getLogs`` calls the sync made with
:func:`ideal_get_logs_calls`. The message formats are listed in :data:`MESSAGE_FORMATS`.

Only the standard library and ``requests``: this module imports neither Django nor web3.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import requests
from requests.adapters import HTTPAdapter

# JSON-RPC error codes providers use for refused eth_getLogs queries.
LIMIT_EXCEEDED = -32005  # Infura's and geth's "limit exceeded"
INVALID_PARAMS = -32602  # Alchemy's and QuickNode's "invalid params"
INTERNAL_ERROR = -32603

RANGE_ERROR_STYLES = ("alchemy", "max_range", "too_wide", "quicknode")
BOGUS_HINT_KINDS = ("equal", "wider", "reversed", "outside", "missing")

# The exact messages, for the sync engine's parser (and the tests). ``{from}``/``{to}`` are the
# asked range, ``{hint_from}``/``{hint_to}`` a suggested one, ``{max_block_range}`` and
# ``{max_results}`` the limits (``{max_block_range:,}`` with thousands separators).
MESSAGE_FORMATS = {
    # -32602. The hint is correct: [from, from + max_block_range - 1], lowercase hex.
    "alchemy": (
        "Log response size exceeded. You can make eth_getLogs requests with up to a "
        "{max_block_range} block range and no limit on the response size, or you can request "
        "any block range with a cap of {cap} logs in the response. Based on your parameters, "
        "this block range should work: [0x{hint_from:x}, 0x{hint_to:x}]"
    ),
    # -32005. No hint, only the limit.
    "max_range": "exceed maximum block range: {max_block_range}",
    # -32602. Neither hint nor limit.
    "too_wide": "block range is too wide",
    # -32602. The limit with thousands separators ("10,000").
    "quicknode": "eth_getLogs is limited to a {max_block_range:,} range",
    # -32005, with data {"from": "0x..", "to": "0x..", "limit": max_results}. Uppercase hex
    # digits, as Infura writes them. The hint may be bogus (see BOGUS_HINT_KINDS).
    "results": (
        "query returned more than {max_results} results. "
        "Try with this block range [0x{hint_from:X}, 0x{hint_to:X}]."
    ),
    # -32005, with data {"limit": max_results}: the "missing" bogus hint.
    "results_no_hint": "query returned more than {max_results} results",
}

_RANGE_CODES = {
    "alchemy": INVALID_PARAMS,
    "max_range": LIMIT_EXCEEDED,
    "too_wide": INVALID_PARAMS,
    "quicknode": INVALID_PARAMS,
}
_HEAD_TAGS = ("latest", "pending")
_CHECKPOINT_TAGS = ("safe", "finalized")
JSON = "application/json"


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer: status, body bytes and content type."""

    status: int
    body: bytes
    content_type: str = JSON

    def as_object(self, request_id: Any) -> Any:
        """The JSON-RPC response object in this reply (for assembling a batch)."""
        if self.status == 200:
            try:
                return json.loads(self.body)
            except ValueError:
                pass
        message = f"upstream answered HTTP {self.status}"
        return _error_object(request_id, INTERNAL_ERROR, message)


@dataclass
class _FailureRule:
    remaining: int
    method: str | None
    kind: Literal["http", "rpc"]


class _Unresolvable(ValueError):
    """A block parameter the proxy cannot read: the node will judge it."""


class _UpstreamError(RuntimeError):
    """The node could not be reached or refused an internal call."""


def _error_object(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _json_reply(obj: Any, status: int = 200) -> _Reply:
    return _Reply(status, json.dumps(obj, separators=(",", ":")).encode())


def ideal_get_logs_calls(
    block_numbers: Iterable[int],
    from_block: int,
    to_block: int,
    *,
    max_block_range: int | None,
    max_results: int | None,
) -> int:
    """The fewest ``eth_getLogs`` calls that cover ``[from_block, to_block]`` within the limits.

    ``block_numbers`` holds the block number of every log the query matches (one entry per log).
    Greedy widest-first is optimal because every sub-range of an allowed range is allowed. A
    single block holding more than ``max_results`` logs cannot be fetched at all; it is counted
    as one call.
    """
    blocks = sorted(b for b in block_numbers if from_block <= b <= to_block)
    calls, start = 0, from_block
    while start <= to_block:
        end = to_block if max_block_range is None else min(to_block, start + max_block_range - 1)
        if max_results is not None:
            first = bisect.bisect_left(blocks, start)
            over = first + max_results  # index of the first log past the cap
            if over < len(blocks) and blocks[over] <= end:
                end = max(start, blocks[over] - 1)
        calls += 1
        start = end + 1
    return calls


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: LimitingRpcProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connections
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms ACK wait
    timeout = 60  # an idle keep-alive connection ends its thread after this
    server: _ProxyServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            reply = self.server.proxy._handle(body)
        except Exception as exc:  # a bug here must not hang the client
            reply = _json_reply(_error_object(None, INTERNAL_ERROR, f"proxy error: {exc}"), 500)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(reply.body)

    def do_GET(self) -> None:
        body = b"JSON-RPC only: POST a request\n"
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests and benchmarks do not want a line per request."""


class LimitingRpcProxy:
    """A JSON-RPC proxy to ``upstream_url`` that enforces ``eth_getLogs`` limits.

    ``max_block_range`` caps ``toBlock - fromBlock + 1`` and ``max_results`` the number of logs
    (``None``: no cap). With probability ``bogus_hint_rate`` a result-count error carries a
    wrong range hint; the draws come from ``random.Random(seed)``, so a sequential client sees
    the same answers on every run. The server listens on ``127.0.0.1`` on a free port (``port``
    to choose one) as soon as the proxy exists; ``start()`` (or ``with``) serves it in a daemon
    thread and ``stop()`` ends it for good.

    Counters (read them directly or with :meth:`counters`; :meth:`reset_counters` zeroes them):
    ``calls`` (JSON-RPC calls, each item of a batch counted), ``http_requests``,
    ``get_logs_calls``, ``get_logs_ok``, ``get_logs_errors`` (every ``eth_getLogs`` the client
    saw fail: limits, injected failures, node errors), ``range_errors``, ``result_errors``,
    ``injected_failures``, ``logs_served`` (logs in successful answers) and ``hint_kinds``
    (how many result-count hints of each kind: ``"correct"`` or one of BOGUS_HINT_KINDS),
    ``methods`` (calls per JSON-RPC method) and ``batches`` (HTTP requests that were batches).
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        max_block_range: int | None,
        max_results: int | None,
        bogus_hint_rate: float = 0.0,
        seed: int = 0,
        range_error_styles: Sequence[str] = RANGE_ERROR_STYLES,
        port: int = 0,
        timeout: float = 30.0,
        strip_block_timestamps: bool = False,
    ):
        if max_block_range is not None and max_block_range < 1:
            raise ValueError("max_block_range must be at least 1 (or None)")
        if max_results is not None and max_results < 0:
            raise ValueError("max_results must be at least 0 (or None)")
        if not 0.0 <= bogus_hint_rate <= 1.0:
            raise ValueError("bogus_hint_rate must be between 0 and 1")
        unknown = set(range_error_styles) - set(RANGE_ERROR_STYLES)
        if unknown or not range_error_styles:
            raise ValueError(f"range_error_styles must be some of {RANGE_ERROR_STYLES}")
        self.upstream_url = upstream_url
        self.max_block_range = max_block_range
        self.max_results = max_results
        self.bogus_hint_rate = bogus_hint_rate
        self.seed = seed
        self.range_error_styles = tuple(range_error_styles)
        self.timeout = timeout
        self.strip_block_timestamps = strip_block_timestamps

        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible test faults, not secrets
        self._range_rotation = 0  # not reset with the counters: the styles keep rotating
        self._failures: list[_FailureRule] = []
        self._internal_ids = iter(range(1, 2**62))
        self.reset_counters()

        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=64)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

        self._server = _ProxyServer(("127.0.0.1", port), _Handler)
        self._server.proxy = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> LimitingRpcProxy:
        """Serve in a daemon thread (a second call does nothing)."""
        if self._stopped:
            raise RuntimeError("a stopped proxy cannot start again: make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"rpcproxy-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the port and the upstream connections (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        self._session.close()

    def __enter__(self) -> LimitingRpcProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- counters and failures ------------------------------------------------------------
    def reset_counters(self) -> None:
        """Zero every counter (the random draws and style rotation go on)."""
        with self._lock:
            self.calls = 0
            self.http_requests = 0
            self.get_logs_calls = 0
            self.get_logs_ok = 0
            self.get_logs_errors = 0
            self.range_errors = 0
            self.result_errors = 0
            self.injected_failures = 0
            self.logs_served = 0
            self.hint_kinds: Counter[str] = Counter()
            self.methods: Counter[str] = Counter()
            self.batches = 0

    def counters(self) -> dict[str, Any]:
        """A consistent snapshot of the counters."""
        with self._lock:
            return {
                "calls": self.calls,
                "http_requests": self.http_requests,
                "get_logs_calls": self.get_logs_calls,
                "get_logs_ok": self.get_logs_ok,
                "get_logs_errors": self.get_logs_errors,
                "range_errors": self.range_errors,
                "result_errors": self.result_errors,
                "injected_failures": self.injected_failures,
                "logs_served": self.logs_served,
                "hint_kinds": dict(self.hint_kinds),
                "methods": dict(self.methods),
                "batches": self.batches,
            }

    def fail_next(
        self, n: int, method: str | None = None, *, kind: Literal["http", "rpc"] = "http"
    ) -> None:
        """Make the next ``n`` requests (only calls of ``method``, if given) fail.

        ``kind="http"``: the whole HTTP request is answered ``503 Service Unavailable`` (a batch
        uses up one failure). ``kind="rpc"``: the call is answered with a JSON-RPC error
        ``-32603`` "internal error" (each call of a batch uses one). A failed call never reaches
        the node. Rules queue up in the order they were given.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        if kind not in ("http", "rpc"):
            raise ValueError("kind is 'http' or 'rpc'")
        with self._lock:
            self._failures.append(_FailureRule(n, method, kind))

    def _take_failure(self, methods: Sequence[Any], kind: str) -> bool:
        """Use up one failure of ``kind`` that matches one of ``methods``, if any is queued."""
        with self._lock:
            for rule in self._failures:
                if rule.remaining <= 0 or rule.kind != kind:
                    continue
                if rule.method is None or rule.method in methods:
                    rule.remaining -= 1
                    self.injected_failures += 1
                    if "eth_getLogs" in methods:
                        self.get_logs_calls += methods.count("eth_getLogs")
                        self.get_logs_errors += methods.count("eth_getLogs")
                    self._failures = [r for r in self._failures if r.remaining > 0]
                    return True
        return False

    # --- upstream -----------------------------------------------------------------------------
    def _forward(self, body: bytes) -> _Reply:
        """POST ``body`` to the node; its answer verbatim (a 502 when it cannot be reached)."""
        try:
            response = self._session.post(
                self.upstream_url,
                data=body,
                headers={"Content-Type": JSON},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            error = _error_object(None, INTERNAL_ERROR, f"upstream unavailable: {exc}")
            return _json_reply(error, 502)
        content_type = response.headers.get("Content-Type", JSON)
        return _Reply(response.status_code, response.content, content_type)

    def _upstream_call(self, method: str, params: list[Any]) -> Any:
        """An internal call to the node (not counted); its ``result``."""
        with self._lock:
            request_id = next(self._internal_ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        reply = self._forward(json.dumps(request).encode())
        try:
            answer = json.loads(reply.body)
        except ValueError as exc:
            raise _UpstreamError(f"{method}: HTTP {reply.status}, not JSON") from exc
        if reply.status != 200 or "error" in answer:
            raise _UpstreamError(f"{method}: {answer.get('error') or reply.status}")
        return answer["result"]

    # --- request handling -----------------------------------------------------------------------
    def _handle(self, body: bytes) -> _Reply:
        """Answer one HTTP request body (a single call or a batch)."""
        with self._lock:
            self.http_requests += 1
        try:
            payload = json.loads(body)
        except ValueError:
            with self._lock:
                self.calls += 1
            return self._forward(body)  # the node answers the parse error
        is_batch = isinstance(payload, list)
        items = payload if is_batch else [payload]
        methods = [item.get("method") if isinstance(item, dict) else None for item in items]
        with self._lock:
            self.calls += len(items)
            self.methods.update(method for method in methods if isinstance(method, str))
            self.batches += is_batch
        if self._take_failure(methods, "http"):
            first_id = items[0].get("id") if items and isinstance(items[0], dict) else None
            message = "Service Unavailable: upstream temporarily overloaded, retry later"
            return _json_reply(_error_object(first_id, INTERNAL_ERROR, message), 503)
        if not is_batch:
            if not isinstance(payload, dict):
                return self._forward(body)
            return self._handle_call(payload, body)
        if "eth_getLogs" not in methods and not self._rpc_failures_queued():
            return self._forward(body)  # nothing to police: the node's batch answer verbatim
        answers = []
        for item in items:
            if not isinstance(item, dict):
                reply = self._forward(json.dumps(item).encode())
                answers.append(reply.as_object(None))
                continue
            reply = self._handle_call(item, json.dumps(item).encode())
            if "id" in item:  # a notification gets no answer
                answers.append(reply.as_object(item.get("id")))
        return _json_reply(answers)

    def _rpc_failures_queued(self) -> bool:
        with self._lock:
            return any(rule.kind == "rpc" and rule.remaining > 0 for rule in self._failures)

    def _handle_call(self, item: dict[str, Any], raw: bytes) -> _Reply:
        """Answer one JSON-RPC call; ``raw`` is its encoding, forwarded when nothing changes."""
        method = item.get("method")
        if self._take_failure([method], "rpc"):
            message = "internal error: upstream request failed, please retry"
            return _json_reply(_error_object(item.get("id"), INTERNAL_ERROR, message))
        if method == "eth_getLogs":
            return self._get_logs(item, raw)
        return self._forward(raw)

    def _get_logs(self, item: dict[str, Any], raw: bytes) -> _Reply:
        with self._lock:
            self.get_logs_calls += 1
        request_id = item.get("id")
        params = item.get("params")
        log_filter = params[0] if isinstance(params, list) and params else None
        if not isinstance(log_filter, dict) or log_filter.get("blockHash") is not None:
            return self._count_outcome(self._forward(raw))  # one block: no range to police

        try:
            from_block, to_block = self._resolve_range(log_filter)
        except _Unresolvable:
            return self._count_outcome(self._forward(raw))  # the node rejects it in its words
        except _UpstreamError as exc:
            with self._lock:
                self.get_logs_errors += 1
            return _json_reply(_error_object(request_id, INTERNAL_ERROR, str(exc)))

        span = to_block - from_block + 1
        if self.max_block_range is not None and span > self.max_block_range:
            return _json_reply(self._range_error(request_id, from_block, to_block))

        if log_filter.get("fromBlock") != hex(from_block) or log_filter.get("toBlock") != hex(
            to_block
        ):
            # Tags resolved once, here: the node must answer for the very range we checked.
            resolved = {**log_filter, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
            raw = json.dumps({**item, "params": [resolved, *params[1:]]}).encode()
        reply = self._forward(raw)
        try:
            answer = json.loads(reply.body)
            logs = answer["result"] if reply.status == 200 else None
        except (ValueError, KeyError, TypeError):
            logs = None
        if not isinstance(logs, list):
            with self._lock:
                self.get_logs_errors += 1
            return reply
        if self.max_results is not None and len(logs) > self.max_results:
            return _json_reply(self._results_error(request_id, from_block, to_block, logs))
        with self._lock:
            self.get_logs_ok += 1
            self.logs_served += len(logs)
        if self.strip_block_timestamps:
            for log in logs:
                if isinstance(log, dict):
                    log.pop("blockTimestamp", None)
            return _json_reply(answer)
        return reply

    def _count_outcome(self, reply: _Reply) -> _Reply:
        """Count a forwarded ``eth_getLogs`` answer as served or failed."""
        try:
            answer = json.loads(reply.body)
            logs = answer.get("result") if reply.status == 200 else None
        except (ValueError, AttributeError):
            logs = None
        with self._lock:
            if isinstance(logs, list):
                self.get_logs_ok += 1
                self.logs_served += len(logs)
            else:
                self.get_logs_errors += 1
        return reply

    def _resolve_range(self, log_filter: dict[str, Any]) -> tuple[int, int]:
        cache: dict[str, int] = {}
        from_block = self._resolve_block(log_filter.get("fromBlock"), cache)
        to_block = self._resolve_block(log_filter.get("toBlock"), cache)
        return from_block, to_block

    def _resolve_block(self, value: Any, cache: dict[str, int]) -> int:
        """A block parameter as a number; tags are asked of the node (once per call)."""
        if value is None:
            value = "latest"  # the JSON-RPC default for both ends
        if isinstance(value, bool):
            raise _Unresolvable(value)
        if isinstance(value, int):
            return value
        if not isinstance(value, str):
            raise _Unresolvable(value)
        if value == "earliest":
            return 0
        if value in _HEAD_TAGS:
            if "head" not in cache:
                cache["head"] = int(self._upstream_call("eth_blockNumber", []), 16)
            return cache["head"]
        if value in _CHECKPOINT_TAGS:
            if value not in cache:
                block = self._upstream_call("eth_getBlockByNumber", [value, False])
                if not block:
                    raise _Unresolvable(value)
                cache[value] = int(block["number"], 16)
            return cache[value]
        if value[:2].lower() == "0x":
            try:
                return int(value, 16)
            except ValueError as exc:
                raise _Unresolvable(value) from exc
        raise _Unresolvable(value)

    # --- the refusals -----------------------------------------------------------------------
    def _range_error(self, request_id: Any, from_block: int, to_block: int) -> dict[str, Any]:
        assert self.max_block_range is not None
        with self._lock:
            index = (self.seed + self._range_rotation) % len(self.range_error_styles)
            self._range_rotation += 1
            self.range_errors += 1
            self.get_logs_errors += 1
        style = self.range_error_styles[index]
        message = MESSAGE_FORMATS[style].format(
            max_block_range=self.max_block_range,
            cap=self.max_results if self.max_results is not None else 10_000,
            hint_from=from_block,
            hint_to=from_block + self.max_block_range - 1,
        )
        return _error_object(request_id, _RANGE_CODES[style], message)

    def _results_error(
        self, request_id: Any, from_block: int, to_block: int, logs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        assert self.max_results is not None
        with self._lock:
            bogus = self._rng.random() < self.bogus_hint_rate
            kind = self._rng.choice(BOGUS_HINT_KINDS) if bogus else "correct"
            self.result_errors += 1
            self.get_logs_errors += 1
            self.hint_kinds[kind] += 1
        hint = self._hint(kind, from_block, to_block, logs)
        if hint is None:
            message = MESSAGE_FORMATS["results_no_hint"].format(max_results=self.max_results)
            return _error_object(request_id, LIMIT_EXCEEDED, message, {"limit": self.max_results})
        hint_from, hint_to = hint
        message = MESSAGE_FORMATS["results"].format(
            max_results=self.max_results, hint_from=hint_from, hint_to=hint_to
        )
        data = {"from": f"0x{hint_from:X}", "to": f"0x{hint_to:X}", "limit": self.max_results}
        return _error_object(request_id, LIMIT_EXCEEDED, message, data)

    def _hint(
        self, kind: str, from_block: int, to_block: int, logs: list[dict[str, Any]]
    ) -> tuple[int, int] | None:
        """The suggested range of a result-count error: correct, or bogus of ``kind``."""
        span = to_block - from_block + 1
        if kind == "correct":
            # The widest [from, end] holding at most max_results logs: end is just before the
            # block of the first log past the cap. A single block over the cap gives [from, from].
            assert self.max_results is not None
            numbers = (log.get("blockNumber") for log in logs if isinstance(log, dict))
            blocks = sorted(int(n, 16) for n in numbers if isinstance(n, str))
            end = blocks[self.max_results] - 1 if len(blocks) > self.max_results else to_block
            return from_block, max(from_block, min(end, to_block - 1))
        if kind == "equal":
            return from_block, to_block
        if kind == "wider":
            return from_block, to_block + span
        if kind == "reversed":
            return max(to_block, from_block + 1), from_block
        if kind == "outside":
            return to_block + 1, to_block + span
        return None  # "missing"
