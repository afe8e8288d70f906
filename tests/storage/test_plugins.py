"""open_store: a location picks its store through the ``pythagoras_open_store`` hook."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import child_processes
import pytest

import pythagoras
from pythagoras.errors import StoreError
from pythagoras.storage.base import Store
from pythagoras.storage.hookspecs import hookimpl
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store, plugin_manager


class MemSchemePlugin:
    """Serves ``testmem://name`` with one MemoryStore per name; nothing else."""

    def __init__(self) -> None:
        self.stores: dict[str, MemoryStore] = {}
        self.options_seen: list[dict[str, Any]] = []

    @hookimpl
    def pythagoras_open_store(self, location: str, storage_options: dict[str, Any]) -> Store | None:
        if not location.startswith("testmem://"):
            return None
        self.options_seen.append(storage_options)
        return self.stores.setdefault(location, MemoryStore(location))


testmem_plugin = MemSchemePlugin()


@pytest.fixture
def testmem() -> Iterator[MemSchemePlugin]:
    pm = plugin_manager()
    testmem_plugin.stores.clear()
    testmem_plugin.options_seen.clear()
    pm.register(testmem_plugin, name="testmem")
    try:
        yield testmem_plugin
    finally:
        pm.unregister(testmem_plugin)
    assert pm.get_plugin("testmem") is None


# -- the built-in local-folder store ----------------------------------------------------------


def test_a_plain_path_opens_a_local_folder(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"))
    assert type(store) is LocalFolderStore
    assert store.location == str(tmp_path / "s")
    assert (tmp_path / "s").is_dir()


def test_a_path_object_opens_a_local_folder(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s")
    assert type(store) is LocalFolderStore
    assert store.location == str(tmp_path / "s")


def test_a_relative_path_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("rel/store")
    assert store.location == str(tmp_path / "rel" / "store")


def test_a_file_url_opens_a_local_folder(tmp_path: Path) -> None:
    store = open_store((tmp_path / "s").as_uri())
    assert type(store) is LocalFolderStore
    assert store.location == str(tmp_path / "s")
    store.write("k", b"v")
    assert (tmp_path / "s" / "k").read_bytes() == b"v"


def test_a_file_url_is_percent_decoded(tmp_path: Path) -> None:
    url = (tmp_path / "with space").as_uri()
    assert "%20" in url
    assert open_store(url).location == str(tmp_path / "with space")


def test_a_file_url_naming_localhost_is_local(tmp_path: Path) -> None:
    store = open_store("file://localhost" + (tmp_path / "s").as_posix())
    assert store.location == str(tmp_path / "s")


def test_a_file_url_naming_another_host_is_refused(tmp_path: Path) -> None:
    # "file://server/share/x" names a folder on another machine, and "file://data/store" is a
    # mistyped relative path; opening the local folder "/share/x" or "/store" instead would
    # silently split the swarm.
    with pytest.raises(StoreError):
        open_store("file://otherhost" + (tmp_path / "s").as_posix())
    assert not (tmp_path / "s").exists()


def test_a_local_folder_takes_no_storage_options(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="storage_options"):
        open_store(tmp_path / "s", {"anon": True})


def test_an_open_store_is_returned_as_is() -> None:
    store = MemoryStore()
    assert open_store(store) is store  # type: ignore[arg-type]


def test_an_empty_location_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="empty"):
        open_store("")


def test_an_unknown_scheme_names_what_to_install() -> None:
    with pytest.raises(StoreError) as info:
        open_store("nosuch://bucket/x")
    message = str(info.value)
    assert "nosuch://" in message
    assert "install" in message
    assert isinstance(info.value, OSError)  # StoreError is also the builtin it resembles


# -- a third-party plugin ---------------------------------------------------------------------


def test_a_plugin_serves_its_scheme(testmem: MemSchemePlugin) -> None:
    store = open_store("testmem://a")
    assert type(store) is MemoryStore
    assert store is testmem.stores["testmem://a"]
    assert open_store("testmem://a") is store
    assert open_store("testmem://b") is not store


def test_a_plugin_receives_the_storage_options(testmem: MemSchemePlugin) -> None:
    open_store("testmem://a", {"region": "eu", "anon": True})
    open_store("testmem://b")
    assert testmem.options_seen == [{"region": "eu", "anon": True}, {}]


def test_a_plugin_leaves_other_locations_to_the_local_folder(
    testmem: MemSchemePlugin, tmp_path: Path
) -> None:
    assert type(open_store(tmp_path / "s")) is LocalFolderStore
    assert type(open_store((tmp_path / "t").as_uri())) is LocalFolderStore
    with pytest.raises(StoreError, match="nosuch://"):
        open_store("nosuch://x")
    assert testmem.stores == {}


def test_without_its_plugin_a_scheme_is_unknown() -> None:
    pm = plugin_manager()
    pm.register(testmem_plugin, name="testmem")
    try:
        assert type(open_store("testmem://a")) is MemoryStore
    finally:
        pm.unregister(testmem_plugin)
    with pytest.raises(StoreError, match="testmem://"):
        open_store("testmem://a")


class ClaimsEverything:
    """A plugin that serves every location, to see who is asked first."""

    @hookimpl
    def pythagoras_open_store(self, location: str, storage_options: dict[str, Any]) -> Store:
        return MemoryStore(f"claimed:{location}")


def test_a_plugin_registered_later_is_asked_first(tmp_path: Path) -> None:
    pm = plugin_manager()
    plugin = ClaimsEverything()
    pm.register(plugin)
    try:
        store = open_store(tmp_path / "s")
        assert store.location == f"claimed:{tmp_path / 's'}"
    finally:
        pm.unregister(plugin)
    assert not (tmp_path / "s").exists()  # the local folder was never asked
    assert type(open_store(tmp_path / "s")) is LocalFolderStore


# -- plugins installed as packages: the entry-point group "pythagoras" -------------------------

EXAMPLE_PLUGIN = Path(__file__).with_name("example_plugin")


def fake_distribution(site: Path, name: str, entry_points: str) -> None:
    """What ``pip install`` leaves for a package: a dist-info folder with its entry points."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_an_installed_store_plugin_serves_a_whole_swarm(tmp_path: Path) -> None:
    # A fresh interpreter that has the example plugin installed (its module importable and an
    # entry point naming it) runs calls on dict:// through the executor; the built-in stores
    # still serve their locations beside it.
    site = tmp_path / "site"
    fake_distribution(site, "pythagoras_dictstore", "[pythagoras]\ndictstore = pythagoras_dictstore\n")
    script = (
        "import operator, sys\n"
        "from pythagoras import PythagorasExecutor, open_store\n"
        "from pythagoras.storage.plugins import plugin_manager\n"
        "with PythagorasExecutor('dict://demo', max_workers=1) as ex:\n"
        "    print(ex.submit(operator.mul, 6, 7).result(timeout=60))\n"
        "store = open_store('dict://demo')\n"
        "print(type(store).__module__, len(list(store.list('results/'))))\n"
        "print(type(open_store(sys.argv[1])).__name__)\n"
        "print(sorted(n for n, _ in plugin_manager().list_name_plugin()))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(site), str(EXAMPLE_PLUGIN), str(Path(pythagoras.__file__).parents[1])]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    run = child_processes.run(["-c", script, str(tmp_path / "folder")], env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "42"
    assert lines[1] == "pythagoras.storage.memory 1"
    assert lines[2] == "LocalFolderStore"
    assert "dictstore" in lines[3] and "local_folder" in lines[3] and "fsspec" in lines[3]


def test_without_the_entry_point_the_plugin_is_not_loaded(tmp_path: Path) -> None:
    # The module alone on the path is not a plugin: only an entry point makes it one.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE_PLUGIN), str(Path(pythagoras.__file__).parents[1])])
    script = (
        "from pythagoras import open_store\n"
        "try:\n"
        "    open_store('dict://demo')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
    )
    run = child_processes.run(["-c", script], env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "StoreError"
