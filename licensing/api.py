from ninja import Router

# Offers, licenses, credits and revenue endpoints are added by the licensing issues.
router = Router(tags=["licensing"])
