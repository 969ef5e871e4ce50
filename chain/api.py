from ninja import Router, Schema
from ninja.errors import HttpError

from chain.client import node_status

router = Router(tags=["chain"])


class NodeStatusOut(Schema):
    chain_id: int
    block_number: int


@router.get("/status", response=NodeStatusOut)
def chain_status(request):
    """The configured chain node's chain id and head block (503 when it cannot be reached)."""
    try:
        status = node_status()
    except Exception as exc:  # any transport or RPC failure means the node is unavailable
        raise HttpError(503, f"The chain node is unavailable: {type(exc).__name__}.") from None
    return NodeStatusOut(chain_id=status.chain_id, block_number=status.block_number)
