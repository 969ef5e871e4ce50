from django.core.exceptions import ValidationError
from eth_utils import is_address, is_checksum_address, to_checksum_address


def validate_eth_address(value: str) -> None:
    """An EVM address: 0x + 40 hex digits; mixed case must be a valid EIP-55 checksum."""
    if not is_address(value):
        raise ValidationError("Enter an address of the form 0x followed by 40 hex digits.")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValidationError("The address has a wrong EIP-55 checksum; check for a typo.")


def normalize_eth_address(value: str) -> str:
    return to_checksum_address(value) if value else value
