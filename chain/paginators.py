from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (a COUNT over a LIMIT), so huge tables list quickly."""

    @cached_property
    def count(self) -> int:
        return self.object_list[:COUNT_CAP].count()
