from ninja import Router

# Model and version endpoints are added by the model registry issue.
router = Router(tags=["models"])
