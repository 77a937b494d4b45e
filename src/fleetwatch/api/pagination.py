"""Default pagination of every list of the REST API: ``?limit=`` and ``?offset=``.

Answer: ``{"count": n, "next": url|null, "previous": url|null, "results": [...]}``.
``limit`` defaults to ``REST_FRAMEWORK["PAGE_SIZE"]`` (50) and is capped at :attr:`max_limit`;
a value that is not a positive integer falls back to the default (DRF's rule)."""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    max_limit = 1000
