"""The real-time predict API: rows in, predictions out, through the metering gate.

``POST /api/models/{org}/{slug}/versions/{version}/predict`` and ``POST
/api/models/{org}/{slug}/predict`` (the model's latest published version), with an API key
holding ``predict`` or a signed-in session (CSRF checked). The body is read and parsed here
with ``json.loads`` (no pydantic model per row: see ``models_hub.predict``); its size is bounded
by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 ``payload_too_large``), its rows by
``PREDICT_MAX_ROWS``. The rows are checked before ``metering.gate`` is called, so a bad row
is never charged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from ninja import Header, Router, Schema
from ninja.security import SessionAuth

from licensing.amounts import format_amount
from licensing.idempotency import idempotent_call, request_fingerprint
from models_hub import metering, predict, selectors
from models_hub.api import ModelSlug, OrgSlug, VersionLabel, _model_or_404, _own_org_id
from models_hub.errors import ModelsErrorCode, PaymentErrorCode
from models_hub.x402 import protocol as x402_protocol
from models_hub.x402 import services as x402
from models_hub.x402.auth import AgentCall, AgentPayment
from portal.api_errors import api_page, error_response, errors
from portal.auth import ApiKeyAuth
from portal.choices import ApiScope
from portal.errors import DomainError, PortalErrorCode

router = Router(tags=["predict"])

IDEMPOTENCY_KEY_MAX = 255


class SignedInSession(SessionAuth):
    """A signed-in session (CSRF checked); without one the next scheme, or 401, answers."""

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None  # not a 403 "CSRF check failed" for a request that sent no key at all
        return super().__call__(request)


KEY_OR_SESSION = [ApiKeyAuth(ApiScope.PREDICT), SignedInSession()]
# predictions also take an agent's x402 payment (models_hub.x402), batch jobs do not
PREDICT_AUTH = [*KEY_OR_SESSION, AgentPayment()]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX,
        min_length=1,
        description="A retry with the same key and body answers the first answer and is "
        "charged once (up to 255 characters).",
    ),
]


class PredictionOut(Schema):
    model: str
    version: str
    rows: int
    predictions: list
    classes: list | None
    probabilities: list[list[float]] | None
    units_charged: int


WINE_ROW_0 = [14.23, 1.71, 2.43, 15.6, 127, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065]
WINE_ROW_1 = [12.37, 0.94, 1.36, 10.6, 88, 1.98, 0.57, 0.28, 0.42, 1.95, 1.05, 1.82, 520]
_ROW_OBJECT = {"type": "object", "additionalProperties": {"type": "number"}}
_ROW_ARRAY = {"type": "array", "items": {"type": "number"}}


def rows_body_schema(*, max_rows: int, description: str) -> dict:
    """The JSON schema of a ``{"rows": [...]}`` body (the predict API's, a batch job's)."""
    return {
        "type": "object",
        "required": ["rows"],
        "additionalProperties": False,
        "properties": {
            "rows": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "description": description,
                "items": {"oneOf": [_ROW_OBJECT, _ROW_ARRAY]},
            }
        },
    }


PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": rows_body_schema(
                max_rows=settings.PREDICT_MAX_ROWS,
                description="Objects keyed by feature name (every feature, no "
                "other), or arrays of the version's `n_features` values in its "
                "feature order. Values are finite numbers.",
            ),
            "examples": {
                "objects": {
                    "summary": "Rows as objects (wine: 13 features)",
                    "value": {
                        "rows": [
                            {
                                "alcohol": 14.23,
                                "malic_acid": 1.71,
                                "ash": 2.43,
                                "alcalinity_of_ash": 15.6,
                                "magnesium": 127,
                                "total_phenols": 2.8,
                                "flavanoids": 3.06,
                                "nonflavanoid_phenols": 0.28,
                                "proanthocyanins": 2.29,
                                "color_intensity": 5.64,
                                "hue": 1.04,
                                "od280/od315_of_diluted_wines": 3.92,
                                "proline": 1065,
                            }
                        ]
                    },
                },
                "arrays": {
                    "summary": "Rows as arrays, in the version's feature order",
                    "value": {"rows": [WINE_ROW_0, WINE_ROW_1]},
                },
            },
        }
    },
}
PREDICT_OK = {
    200: {  # an int, as ninja keys its own responses (else the document has "200" twice)
        "content": {
            "application/json": {
                "examples": {
                    "classifier": {
                        "summary": "A classifier: predictions, classes and probabilities",
                        "value": {
                            "model": "acme/wine",
                            "version": "1.0.1",
                            "rows": 2,
                            "predictions": [0, 1],
                            "classes": [0, 1, 2],
                            "probabilities": [[0.98, 0.01, 0.01], [0.02, 0.97, 0.01]],
                            "units_charged": 2,
                        },
                    },
                    "regressor": {
                        "summary": "A regressor: predictions only",
                        "value": {
                            "model": "acme/diabetes",
                            "version": "1.0.1",
                            "rows": 1,
                            "predictions": [151.3],
                            "classes": None,
                            "probabilities": None,
                            "units_charged": 1,
                        },
                    },
                }
            }
        }
    }
}
PREDICT_RESPONSES = {200: PredictionOut, **errors(400, 401, 402, 403, 404, 409, 413, 422, 503)}
PREDICT_OPENAPI = {"requestBody": PREDICT_BODY, "responses": PREDICT_OK}


@router.post(
    "/{org}/{slug}/versions/{version}/predict",
    response=PREDICT_RESPONSES,
    auth=PREDICT_AUTH,
    openapi_extra=PREDICT_OPENAPI,
)
def predict_version(
    request,
    org: OrgSlug,
    slug: ModelSlug,
    version: VersionLabel,
    idempotency_key: IdempotencyKey = None,
):
    """Predict with one version (an API key with `predict`, or a signed-in session). Send
    `{"rows": [...]}`: objects keyed by feature name or arrays in feature order, at most
    `PREDICT_MAX_ROWS`. Every row is checked before anything is charged (422 with a code and
    a detail per problem: `rows.3.mean radius`); 409 `version_not_published` for a draft."""
    found = selectors.version_addressed(
        org_slug=org, slug=slug, version=version, own_organization_id=_own_org_id(request)
    )
    if found is None:
        _model_or_404(request, org, slug)  # the model, or 404 model_not_found
        raise DomainError(
            ModelsErrorCode.VERSION_NOT_FOUND, f"No version {version} of {org}/{slug}."
        )
    return _predicted(request, f"{org}/{slug}", found, idempotency_key)


@router.post(
    "/{org}/{slug}/predict",
    response=PREDICT_RESPONSES,
    auth=PREDICT_AUTH,
    openapi_extra=PREDICT_OPENAPI,
)
def predict_latest(request, org: OrgSlug, slug: ModelSlug, idempotency_key: IdempotencyKey = None):
    """Predict with the model's latest published version (the answer names it). The same body,
    checks and answers as a version's predict endpoint."""
    latest = selectors.version_addressed(
        org_slug=org, slug=slug, version=None, own_organization_id=_own_org_id(request)
    )
    if latest is None:
        _model_or_404(request, org, slug)
        message = f"{org}/{slug} has no published version."
        raise DomainError(ModelsErrorCode.VERSION_NOT_FOUND, message)
    return _predicted(request, f"{org}/{slug}", latest, idempotency_key)


def _predicted(request, address: str, version, idempotency_key: str | None) -> HttpResponse:
    """Check the rows, then (once per ``Idempotency-Key``) gate, predict and charge."""
    body = request.body
    rows = predict.rows_from_body(body)
    matrix = predict.rows_matrix(version=version, rows=rows, text=body)
    if isinstance(request.auth, AgentCall):
        return _agent(request, address, version, matrix, body)

    def run() -> tuple[int, dict]:
        return 200, _charged(request, address, version, matrix, idempotency_key)

    if idempotency_key is None:
        return _json(*run())
    caller, _, _ = metering.caller_of(request)
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=body)
    answer, replayed = idempotent_call(
        key=idempotency_key, caller=caller.key, fingerprint=fingerprint, run=run
    )
    response = _json(answer.status, answer.body)
    if replayed:
        response["Idempotent-Replayed"] = "true"  # the first answer; nothing charged again
    return response


def _charged(request, address: str, version, matrix, idempotency_key) -> dict:
    metered = metering.gate(
        request=request, version=version, rows=len(matrix), idempotency_key=idempotency_key
    )
    try:
        result = predict.predict_matrix(version=version, matrix=matrix)
    except BaseException:
        metered.release()
        raise
    metered.finish(result)
    return {"model": address, **result.as_dict(), "units_charged": metered.units_charged}


def _agent(request, address: str, version, matrix, body: bytes) -> HttpResponse:
    """A caller with no key and no session: 402 and the price, or a paid answer (x402)."""
    offer = x402.offer_for(version)
    if offer is None:  # not sold per call: a key or a session, as before
        raise DomainError(PortalErrorCode.UNAUTHENTICATED)
    rows, header = len(matrix), request.auth.payment
    if header is None:
        return _payment_required(request, offer, rows, PaymentErrorCode.PAYMENT_REQUIRED)
    try:
        paid = x402.pay(
            offer=offer,
            version=version,
            rows=rows,
            header=header,
            input_hash="0x" + hashlib.sha256(body).hexdigest(),
        )
        if paid.replay is not None:  # a retry of a settled payment: its first answer
            return _paid(paid.replay, paid.authorization)
        result = predict.predict_matrix(version=version, matrix=matrix)
        answer = {"model": address, **result.as_dict(), "units_charged": 0}
        payment = x402.settle(paid=paid, answer=answer)
    except DomainError as error:
        if isinstance(error.error, PaymentErrorCode) and error.status == 402:
            return _payment_required(request, offer, rows, error.error, error.message)
        raise
    return _paid(answer, payment)


def _payment_required(request, offer, rows: int, error, message: str | None = None):
    """402 with the requirements in PAYMENT-REQUIRED (its ``error`` says why), the API's error
    shape as the body; a browser gets a page that says what to do."""
    required = x402.required(
        offer=offer, rows=rows, url=request.build_absolute_uri(), error=error.code
    )
    if _wants_page(request):
        response = api_page(
            render(
                request,
                "x402/payment_required.html",
                {
                    "offer": offer,
                    "required": required,
                    "price": format_amount(int(required.accepts[0].amount), offer.currency),
                    "error": error,
                    "message": message,
                },
                status=402,
            )
        )
    else:
        response = error_response(error, message)
    response[x402_protocol.PAYMENT_REQUIRED_HEADER] = x402_protocol.encode_required(required)
    return response


def _wants_page(request) -> bool:
    """A browser (HTML preferred over JSON in ``Accept``) gets the page; an agent, whatever it
    sends, the JSON shape. ``*/*`` alone is an HTTP client, not a browser."""
    accept = request.headers.get("Accept", "")
    ranked = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if "text/html" not in ranked:
        return False
    return "application/json" not in ranked or ranked.index("text/html") < ranked.index(
        "application/json"
    )


def _paid(answer: dict, payment) -> HttpResponse:
    response = _json(200, answer)
    tx = payment.transaction
    response[x402_protocol.PAYMENT_RESPONSE_HEADER] = x402_protocol.encode_response(
        transaction=(tx.tx_hash if tx is not None else "") or "",
        payer=payment.payer,
        network=f"eip155:{payment.network.chain_id}",
    )
    return response


def _json(status: int, answer: dict) -> HttpResponse:
    return HttpResponse(json.dumps(answer), status=status, content_type="application/json")
