"""URL converters."""

from werkzeug.routing import IntegerConverter

# The largest id the database's integer primary keys hold (PostgreSQL's INTEGER).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<id:name>`: a database id. Larger numbers are 404 rather than a database overflow.

    ASCII digits only: Werkzeug's `\\d` also matches other scripts' digits (`٣` is 3), which
    would give one token many addresses.
    """

    regex = "[0-9]+"

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (Werkzeug's signature)
        super().__init__(map, min=1, max=MAX_ID)
