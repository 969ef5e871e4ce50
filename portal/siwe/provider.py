"""The ``siwe`` allauth provider: a wallet is a social account whose uid is its EIP-55 address.

It is a token provider, not OAuth (the shape of allauth's own ``dummy`` provider): there is no
app to configure and no redirect. The browser signs in through the portal's JSON endpoints
(``portal.siwe.api``); allauth's headless API signs in with
``POST /_allauth/{browser|app}/v1/auth/provider/token`` and
``{"provider": "siwe", "process": "login" | "connect",
"token": {"id_token": <the signed EIP-4361 message>, "signature": "0x..."}}``, after a nonce
from ``/_allauth/{client}/v1/auth/siwe/nonce``.
"""

from __future__ import annotations

from allauth.socialaccount.providers.base import Provider, ProviderAccount
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from portal.errors import DomainError
from portal.siwe import services


class WalletAccount(ProviderAccount):
    def to_str(self) -> str:
        address = self.account.uid
        return f"{address[:6]}…{address[-4:]}"


class SiweProvider(Provider):
    id = "siwe"
    name = "Ethereum wallet"
    account_class = WalletAccount
    uses_apps = False
    supports_redirect = False
    supports_token_authentication = True

    def get_login_url(self, request: HttpRequest, **kwargs) -> str:
        url = reverse("siwe_login")
        return f"{url}?{urlencode(kwargs)}" if kwargs else url

    def extract_uid(self, data: dict) -> str:
        return data["address"]

    def extract_extra_data(self, data: dict) -> dict:
        return {"chain_id": data["chain_id"], "contract_wallet": data["contract_wallet"]}

    def extract_common_fields(self, data: dict) -> dict:
        return {"username": data["address"].lower()}

    def login_from(self, request: HttpRequest, verified: services.Verified):
        """The allauth ``SocialLogin`` of a verified wallet (not saved: allauth's flow does)."""
        return self.sociallogin_from_response(
            request,
            {
                "address": verified.address,
                "chain_id": verified.chain_id,
                "contract_wallet": verified.contract_wallet,
            },
        )

    def verify_token(self, request: HttpRequest, token: dict):
        """allauth headless: ``token`` carries the signed message and its signature."""
        try:
            verified = services.message_verify(
                binding=request.session.get("siwe_binding", ""),
                site=services.Site.of(request),
                message=token.get("id_token") or "",
                signature=token.get("signature") or "",
            )
        except DomainError as exc:
            # headless answers the code and message of the ValidationError: the same stable codes
            raise ValidationError(exc.message, code=exc.code) from exc
        return self.login_from(request, verified)


provider_classes = [SiweProvider]
