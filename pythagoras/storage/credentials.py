"""Storage options that may travel with an object, and those that stay in the process.

An object that travels to another process (a ``Memory``, a shelved result, the joblib backend)
may be written into the location itself, inside a request or a function record, where anyone
who can read the location reads it. It carries its location's storage options only through
:func:`public_options`: an allow-list of options that name where and how to reach a store,
never who the caller is. An allow-list rather than a deny-list because fsspec's backends spell
credentials many ways (``key``, ``secret``, ``token``, ``password``, ``session_token``,
``sas_token``, ``account_key``, ``connection_string``, ``credential``, ``client_secret``,
``service_account_info``, a ``client_kwargs`` with ``aws_secret_access_key``...), and a new
backend's name for one would slip past a list of names to drop; an option wrongly dropped
only has to come from the receiving process.

The receiving process takes the options the location was opened with in that process
(:func:`opened_options`: every option, credentials included, kept in memory only), else the
public ones, and its credentials from its environment as fsspec does (s3fs reads
``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["PUBLIC_OPTIONS", "opened_options", "public_options", "remember_options"]

#: Storage options that may travel: where the store is and how to talk to it.
PUBLIC_OPTIONS: Final = frozenset({
    "anon", "endpoint_url", "region_name", "use_ssl", "requester_pays", "version_aware", "profile",
    "default_block_size", "default_cache_type", "default_fill_cache", "project", "account_name",
    "use_listings_cache", "skip_instance_cache",
})
#: Of fsspec's ``client_kwargs`` (boto's client), those that may travel.
_PUBLIC_CLIENT: Final = frozenset({"endpoint_url", "region_name", "verify", "use_ssl"})

_opened: dict[str, dict[str, object]] = {}


def public_options(options: Mapping[str, object] | None) -> dict[str, object] | None:
    """The options of ``options`` that may travel (None if there are none)."""
    if not options:
        return None
    public: dict[str, object] = {k: v for k, v in options.items() if k in PUBLIC_OPTIONS}
    client = options.get("client_kwargs")
    if isinstance(client, Mapping):
        kept = {k: v for k, v in client.items() if k in _PUBLIC_CLIENT}
        if kept:
            public["client_kwargs"] = kept
    return public or None


def remember_options(location: str, options: Mapping[str, object] | None) -> None:
    """Note the options ``location`` was opened with in this process (in memory only)."""
    if options:
        _opened.setdefault(location, dict(options))


def opened_options(location: str) -> dict[str, object] | None:
    """The options ``location`` was first opened with in this process, or None."""
    return _opened.get(location)
