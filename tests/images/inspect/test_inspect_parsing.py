"""Pure parsing: whiteouts by name, opaque dirs, hard links, exact waste, archive orders, OCI layouts,
hostile archives, and fuzzing against a brute-force model of overlay stacking."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darse.errors import DarseError
from darse.images.inspect.analysis import analyse
from darse.images.inspect.extract import extract
from darse.images.inspect.layers import index_layer, normalise
from darse.images.inspect.osinfo import os_info
from darse.images.inspect.sources import open_source

from helpers.inspect_tars import docker_save, layer_tar, loaded, member, oci_layout

BASE = layer_tar(
    member("etc/", kind=tarfile.DIRTYPE),
    member("etc/os-release", b'ID=alpine\nVERSION_ID=3.12.1\nPRETTY_NAME="Alpine Linux v3.12"\n'),
    member("data/", kind=tarfile.DIRTYPE),
    member("data/a", b"a" * 100),
    member("data/sub/b", b"b" * 200),
    member("keep", b"k" * 50),
    member("keep-link", kind=tarfile.LNKTYPE, link="keep"),
    member("gone-first", b"g" * 70),
    member("gone-first-link", kind=tarfile.LNKTYPE, link="gone-first"),
    member("opq/old", b"o" * 30),
)
TOP = layer_tar(
    # a whiteout written as a regular file with a leftover link name, and one as a char device
    member("data/.wh.sub", kind=tarfile.REGTYPE, link="leftover"),
    member(".wh.gone-first", kind=tarfile.CHRTYPE),
    member("opq/.wh..wh..opq"),
    member("opq/new", b"n" * 5),
    member("data/a", b"A" * 10),
)


def test_whiteouts_by_name_opaque_and_hard_links():
    image = analyse(loaded([BASE, TOP]))
    top = image.image.layers[1]
    assert sorted(top.whiteouts) == ["data/sub", "gone-first"] and top.opaque == ["opq"]
    assert "data/.wh.sub" not in top.entries
    # lost: data/a (100, overwritten), data/sub/b (200, inside a deleted dir), opq/old (30, opaque);
    # gone-first (70) is still visible through its hard link: not waste
    assert image.waste.wasted_bytes == 330
    assert image.waste.stored_bytes == 100 + 200 + 50 + 70 + 30 + 5 + 10 + len(top.entries["data/a"].path) * 0 + len(
        image.image.layers[0].captured["etc/os-release"]
    )
    assert {f.path: f.how for f in image.waste.files} == {
        "data/sub/b": "deleted",
        "data/a": "overwritten",
        "opq/old": "hidden",
    }
    assert image.os is not None and image.os.id == "alpine" and image.os.eol is True
    assert all(layer.verified for layer in image.layers)


def test_duplicate_members_count_the_earlier_copy_as_waste():
    layer = layer_tar(member("f", b"x" * 10), member("f", b"y" * 3))
    image = analyse(loaded([layer]))
    assert image.waste.wasted_bytes == 10 and image.waste.stored_bytes == 13


@pytest.mark.parametrize("manifest_first", [False, True])
def test_docker_save_archive_in_either_order(tmp_path, manifest_first):
    path = tmp_path / "image.tar"
    path.write_bytes(docker_save([BASE, TOP], manifest_first=manifest_first, User="app"))
    image = analyse(open_source(str(path)).load())
    assert image.waste.wasted_bytes == 330 and image.image.repo_tags == ["x/y:1"] and not image.runs_as_root
    assert [layer.created_by for layer in image.layers] == ["RUN step 0", "RUN step 1"]


def test_oci_layout_directory_and_tar_with_gzip_layers(tmp_path):
    root = tmp_path / "layout"
    oci_layout(root, [BASE, TOP])
    image = analyse(open_source(str(root), platform="linux/amd64").load())
    assert image.waste.wasted_bytes == 330 and all(layer.verified for layer in image.layers)
    assert all(layer.compressed_size for layer in image.image.layers)
    packed = tmp_path / "layout.tar"
    with tarfile.open(packed, "w") as archive:
        archive.add(root, arcname=".")
    again = analyse(open_source(str(packed), platform="linux/amd64").load())
    assert again.waste.wasted_bytes == 330 and again.image_id == image.image_id
    with pytest.raises(DarseError, match="linux/arm64"):
        open_source(str(root), platform="linux/arm64").load()


def test_extract_from_a_lower_layer_of_an_archive(tmp_path):
    path = tmp_path / "image.tar"
    path.write_bytes(docker_save([BASE, TOP]))
    source = open_source(str(path))
    image = analyse(source.load())
    out = tmp_path / "b"
    done = extract(source, image, "/data/sub/b", None, out)
    assert out.read_bytes() == b"b" * 200 and done.layer == 0
    with pytest.raises(DarseError, match="already exists"):
        extract(source, image, "/data/sub/b", 0, out)


HOSTILE = layer_tar(
    member("../../escape", b"evil"),
    member("/abs/path", b"abs"),
    member("link-out", kind=tarfile.SYMTYPE, link="../../../../etc/passwd"),
    member("hard-out", kind=tarfile.LNKTYPE, link="../../etc/shadow"),
    member("dev", kind=tarfile.CHRTYPE),
    member("a/../../../up", b"up"),
    member(".wh...", kind=tarfile.REGTYPE),
    member("ok", b"fine"),
)


def test_hostile_archive_never_writes_outside_the_target(tmp_path):
    archive = tmp_path / "in" / "image.tar"
    archive.parent.mkdir()
    archive.write_bytes(docker_save([HOSTILE]))
    outdir = tmp_path / "out"
    outdir.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    source = open_source(str(archive))
    image = analyse(source.load())
    assert "../../escape" in image.image.layers[0].refused and "a/../../../up" in image.image.layers[0].refused
    assert "abs/path" in image.image.layers[0].entries  # an absolute name is anchored at the image root
    for path, error in (
        ("/link-out", "symbolic link"),
        ("/dev", "device"),
        ("/hard-out", "hard link"),
        ("/../../escape", "not a file path"),
    ):
        with pytest.raises(DarseError, match=error):
            extract(source, image, path, None, outdir / "x")
    extract(source, image, "/abs/path", None, outdir / "abs")
    assert (outdir / "abs").read_bytes() == b"abs"
    assert {p for p in tmp_path.rglob("*")} - before == {outdir / "abs"}
    assert os.stat(outdir / "abs").st_mode & 0o7000 == 0


def test_huge_and_sparse_members_are_refused_before_writing(tmp_path):
    info = tarfile.TarInfo("huge")
    info.size = 1 << 20
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b"\0" * info.size))
    path = tmp_path / "image.tar"
    path.write_bytes(docker_save([buffer.getvalue()]))
    source = open_source(str(path))
    image = analyse(source.load())
    with pytest.raises(DarseError, match="extraction limit"):
        extract(source, image, "/huge", None, tmp_path / "out", max_bytes=1000)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_names_are_normalised_or_refused():
    assert normalise("./usr//bin/../lib/") == "usr/lib"
    assert normalise("/etc/passwd") == "etc/passwd"
    assert normalise("../x") is None and normalise("a/../../x") is None and normalise("a\x00b") is None
    assert normalise("./") == ""


def test_os_release_end_of_life():
    import datetime as dt

    info = os_info('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n', dt.date(2026, 1, 1))
    assert info is not None and info.eol is False and str(info.eol_date) == "2028-06-30"
    assert os_info("ID=ubuntu\nVERSION_ID=18.04\n", dt.date(2026, 1, 1)).eol is True
    assert os_info("ID=plan9\n").eol is None and os_info("garbage") is None


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_random_bytes_never_crash_the_indexer(data):
    with contextlib.suppress(DarseError):
        index_layer(io.BytesIO(data), "fuzz")


NAMES = st.sampled_from(["a", "b", "c"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)
OPS = st.lists(
    st.tuples(
        st.sampled_from(["file", "wh", "opq", "dir", "link"]), PATHS, st.integers(min_value=0, max_value=50), PATHS
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(OPS, min_size=1, max_size=5))
def test_fuzz_waste_matches_a_brute_force_model(layers_ops):
    """Stacking with the tree equals a naive flat model: every path rescanned on each deletion, and a
    file's bytes kept while any of its names (itself or a hard link of its layer) is still visible."""
    tars, model, stored, layer_files = [], {}, 0, []
    for number, ops in enumerate(layers_ops):
        members, files, whiteouts, opaques = {}, {}, set(), set()
        for op, path, size, target in ops:
            if op == "file":
                members[path] = member(path, b"x" * size)
            elif op == "dir":
                members[path] = member(path, kind=tarfile.DIRTYPE)
            elif op == "link":
                members[path] = member(path, kind=tarfile.LNKTYPE, link=target)
            elif op == "wh":
                parent, _, base = path.rpartition("/")
                members[(parent + "/" if parent else "") + ".wh." + base] = member(
                    (parent + "/" if parent else "") + ".wh." + base
                )
            else:
                members[path + "/.wh..wh..opq"] = member(path + "/.wh..wh..opq")
        for name, (info, _data) in members.items():
            base = name.rpartition("/")[2]
            if base == ".wh..wh..opq":
                opaques.add(name.rpartition("/")[0])
            elif base.startswith(".wh."):
                whiteouts.add(name.rpartition("/")[0] + ("/" if "/" in name else "") + base[4:])
            else:
                files[name] = (info.type, info.size, info.linkname)
        layer_files.append(files)
        # the model: flat dict path -> (layer, kind, size)
        for d in opaques:
            model = {p: v for p, v in model.items() if not p.startswith(d + "/")}
        for w in whiteouts:
            model = {p: v for p, v in model.items() if p != w and not p.startswith(w + "/")}
        for name, (kind, size, _link) in files.items():
            parts = name.split("/")
            for i in range(1, len(parts)):  # a file where a parent dir is needed is replaced
                prefix = "/".join(parts[:i])
                if prefix in model and model[prefix][1] != tarfile.DIRTYPE:
                    del model[prefix]
            if kind == tarfile.DIRTYPE:
                if name not in model or model[name][1] != tarfile.DIRTYPE:
                    model[name] = (number, kind, 0)
            else:
                model = {p: v for p, v in model.items() if not p.startswith(name + "/")}
                model[name] = (number, kind, size)
            stored += size if kind == tarfile.REGTYPE else 0
        tars.append(layer_tar(*members.values()))
    image = analyse(loaded(tars))
    kept_blobs = {(_blob(layer_files[layer], path), layer) for path, (layer, _kind, _size) in model.items()}
    kept = sum(layer_files[layer][path][1] for path, layer in kept_blobs if path is not None)
    assert image.waste.stored_bytes == stored
    assert image.waste.wasted_bytes == stored - kept
    assert sum(image.waste.per_layer) == image.waste.wasted_bytes
    assert sum(f.size for f in image.waste.files) == stored - kept  # no duplicates between layers here
    assert 0.0 <= image.waste.efficiency <= 1.0


def _blob(files: dict, path: str) -> str | None:
    """The regular file of its layer whose bytes `path` shows (through hard links), or None."""
    for _hop in range(40):
        kind, _size, link = files.get(path, (None, 0, ""))
        if kind == tarfile.REGTYPE:
            return path
        if kind != tarfile.LNKTYPE:
            return None
        path = link
    return None


MEMBER_NAMES = st.text(alphabet="abcdé_-./", min_size=1, max_size=300).filter(lambda n: n.strip("/."))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]),
    st.lists(st.tuples(MEMBER_NAMES, st.binary(max_size=700), st.sampled_from([b"0", b"5", b"2", b"1"])), max_size=6),
)
def test_fuzz_tar_reader_agrees_with_tarfile(fmt, items):
    """The hand-rolled reader sees the same members as tarfile: long names, pax, GNU headers."""
    from darse.images.inspect.tarstream import TarReader

    buffer = io.BytesIO()
    try:
        with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
            for name, data, kind in items:
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = "target/" + name if kind in (b"1", b"2") else ""
                info.size = len(data) if kind == b"0" else 0
                info.uid = 70000000 if fmt == tarfile.GNU_FORMAT else 1000  # base-256 in GNU headers
                archive.addfile(info, io.BytesIO(data) if kind == b"0" else None)
    except ValueError:
        return  # a name ustar cannot hold
    raw = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        expected = [(m.name.rstrip("/"), m.size, m.linkname, m.uid) for m in archive]
    reader = TarReader(io.BytesIO(raw))
    got = []
    for item in reader:
        size = len(reader.data().read()) if item.type == b"0" else item.size
        got.append((item.name.rstrip("/"), size, item.linkname, item.uid))
    assert got == expected


def test_secret_build_arguments_recorded_in_a_layers_command_are_masked_in_the_report():
    """The classic builder records the build arguments a RUN saw (`docker history` shows them)."""
    import json

    from darse.images.inspect.report import build, masked_build_args

    image = loaded([BASE])
    config = json.loads(image.config_raw)
    config["history"] = [{"created_by": "|2 VERSION=1.2 NPM_TOKEN=planted-build-arg-7c1 /bin/sh -c npm ci"}]
    image = type(image)(image.source, image.reference, json.dumps(config).encode(), image.layers)
    document = build(analyse(image))
    assert document["layers"][0]["created_by"] == "|2 VERSION=1.2 NPM_TOKEN=**** /bin/sh -c npm ci"
    assert "planted-build-arg-7c1" not in json.dumps(document)
    # a value with spaces before another argument is hidden whole; a command without arguments is kept
    assert masked_build_args("|2 DB_PASSWORD=two words V=1 /bin/sh -c x") == "|2 DB_PASSWORD=**** V=1 /bin/sh -c x"
    assert masked_build_args("/bin/sh -c echo PASSWORD=x") == "/bin/sh -c echo PASSWORD=x"
