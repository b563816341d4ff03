"""Hostile paths against every route that takes one: each is refused (400/403) and nothing outside the
resources folder is read, written or deleted; the links planted inside stay too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_files import multipart

SECRET = b"outside the workspace: must never be served, changed or deleted\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "images").mkdir()
    return folder


@pytest.fixture
def workspace(tmp_path: Path, outside: Path) -> Path:
    """A workspace whose resources hold links pointing out: a folder link and a file link."""
    root = tmp_path / "ws"
    (root / "resources" / "images").mkdir(parents=True)
    (root / "resources" / "others").mkdir(parents=True)
    (root / "resources" / "images" / "escape").symlink_to(outside, target_is_directory=True)
    (root / "resources" / "others" / "link.txt").symlink_to(outside / "secret.txt")
    return root


def corpus(resources: Path, outside: Path) -> list[str]:
    secret = outside / "secret.txt"
    return [
        "../secret.txt",
        "../../outside/secret.txt",
        "resources/../../outside/secret.txt",
        "images/../../../outside/secret.txt",
        "images/./../../outside/secret.txt",
        "resources/../resources/../../outside/secret.txt",
        "resources/db/../../../outside/secret.txt",
        "~/../outside/secret.txt",
        "..\\..\\outside\\secret.txt",
        "images\\..\\..\\..\\outside\\secret.txt",
        str(secret),
        str(outside),
        str(outside / "images"),
        f"{resources}/../../outside/secret.txt",
        f"{resources}/images/escape/secret.txt",
        f"{outside}/../ws/resources/images",
        "images/escape/secret.txt",
        "images/escape",
        "images/escape/images",
        "resources/images/escape/../escape/secret.txt",
        "others/link.txt",
        "/etc/passwd",
        "//etc/passwd",
        "\\etc\\passwd",
        "images/CON",
        "images/nul.txt",
        "aux/x.png",
        "images/lpt1",
    ]


def snapshot(*folders: Path) -> dict[str, str]:
    """Every entry under the folders (links not followed): its kind and content hash."""
    seen = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if path.is_symlink():
                seen[str(path)] = "link:" + str(path.readlink())
            elif path.is_file():
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[str(path)] = "dir"
    return seen


@pytest.fixture
def check(api, workspace: Path, outside: Path):
    """``await check(route)``: sends every corpus path through ``route(path)``, which answers a status;
    asserts each is refused and that nothing outside (nor the planted links) changed."""
    resources = workspace / "resources"

    async def run(route, spare: tuple[str, ...] = ()) -> None:
        await api("GET", "files")  # start the server's services: the layout exists from here on
        before = snapshot(outside, resources / "images", resources / "others")
        answers = {path: await route(path) for path in corpus(resources, outside) if path not in spare}
        assert len(answers) >= 20
        wrong = {path: code for path, code in answers.items() if code not in (400, 403)}
        assert not wrong, f"not refused: {wrong}"
        assert snapshot(outside, resources / "images", resources / "others") == before
        assert (outside / "secret.txt").read_bytes() == SECRET

    return run


async def test_info(api, check):
    await check(lambda p: status(api("GET", "files/info", params={"file_path": p})))


async def test_preview_as_text_image_and_binary(api, check):
    for kind in ("text", "image", "binary"):
        await check(lambda p, kind=kind: status(
            api("GET", "preview", params={"file_path": p, "returnMimeType": kind})))


async def test_download(api, check):
    await check(lambda p: status(api("GET", "download", params={"file_path": p})))


async def test_delete(api, check):
    await check(lambda p: status(api("POST", "files/delete", params={"file_path": p})), spare=LINKS)


LINKS = ("others/link.txt", "images/escape")  # the links planted inside, pointing out


async def test_a_link_pointing_out_is_deleted_itself_and_its_target_stays(api, workspace: Path, outside: Path):
    resources = workspace / "resources"
    await api("GET", "files")
    before = snapshot(outside)
    for link in LINKS:
        code, answer = await api("POST", "files/delete", params={"file_path": link})
        assert code == 200, answer
        assert not (resources / link).is_symlink() and not (resources / link).exists()
    assert snapshot(outside) == before  # the folder and the file the links pointed to are untouched
    assert (outside / "secret.txt").read_bytes() == SECRET and (outside / "images").is_dir()


async def test_upload_into_a_hostile_folder(api, check):
    body, headers = multipart("planted.txt", b"planted")
    await check(lambda p: status(api("POST", "files/upload", body, headers=headers, params={"file_path": p})))


async def test_upload_with_a_hostile_filename_lands_inside_or_is_refused(api, workspace: Path, outside: Path):
    await api("GET", "files")
    before = snapshot(outside)
    resources = workspace / "resources"
    for name in corpus(resources, outside):
        body, headers = multipart(name, b"planted")
        code, answer = await api("POST", "files/upload", body, headers=headers, params={"file_path": "others"})
        if code == 201:
            landed = resources / answer["result"]["saved_path"].removeprefix("resources/")
            assert landed.parent == resources / "others" and landed.read_bytes() == b"planted", name
        else:
            assert code == 400, (name, code)
    assert snapshot(outside) == before


async def test_model_download_targets(api, check, workspace: Path, outside: Path):
    models = workspace / "resources" / "models"  # modelscope files land under models/: plant the same links
    (models / "images").mkdir(parents=True)
    (models / "images" / "escape").symlink_to(outside, target_is_directory=True)
    (models / "others").mkdir()
    (models / "others" / "link.txt").symlink_to(outside / "secret.txt")

    async def post(path: str) -> int:
        graph = {"name_": "hostile", "model_url_": [f"modelscope@some/repo:{path}"]}
        code, _ = await api("POST", "models/download", graph)
        return code

    await check(post)
    code, _ = await api("POST", "models/download", {"other_url_": ["modelscope@some/repo:a\x00b.onnx"]})
    assert code == 400


async def status(request) -> int:
    code, _ = await request
    return code
