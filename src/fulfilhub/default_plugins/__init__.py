"""Built-in behaviour, shipped as plugins so that a user can replace any of it.

- ``local_warehouse``: the ``local`` warehouse type (own stock kept in fulfilhub's store).
- ``decisions``: the fallback allocation and carrier choice (``trylast``).
"""
