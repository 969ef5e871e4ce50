from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Staff accounts are invited by an organization owner; nobody signs up with a password."""

    def is_open_for_signup(self, request) -> bool:
        return False
