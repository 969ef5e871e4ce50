from ninja import Router, Schema
from ninja.errors import HttpError

from chain.client import node_status

router = Router(tags=["chain"])

# chain imports no other app of ours, so it names the API's error schema (portal.api_errors.
# ErrorOut) instead of importing it; its HttpError answers the generic code of its status.
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


class NodeStatusOut(Schema):
    chain_id: int
    block_number: int


@router.get(
    "/status",
    response=NodeStatusOut,
    openapi_extra={
        "responses": {
            503: {"description": "The chain node cannot be reached", "content": ERROR_CONTENT}
        }
    },
)
def chain_status(request):
    """The configured chain node's chain id and head block (503 `service_unavailable` when it
    cannot be reached)."""
    try:
        status = node_status()
    except Exception as exc:  # any transport or RPC failure means the node is unavailable
        raise HttpError(503, f"The chain node is unavailable: {type(exc).__name__}.") from None
    return NodeStatusOut(chain_id=status.chain_id, block_number=status.block_number)
