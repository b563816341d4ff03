"""Templates: the built-in ones, resources/template/, and extra trees in nndeploy-workflow's layout."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
from graphs import OFFICIAL_TEMPLATES


def official_tree(root: Path) -> Path:
    """A small tree laid out as the nndeploy-workflow repository: <category>/<Name>.json with cover and readme,
    plus the clutter the real repository has (markdown, images, a non-template JSON, a dot folder)."""
    for category, name in (("classification", "Classification_ResNet"), ("detect", "Detect_YOLO")):
        (root / category).mkdir(parents=True)
        shutil.copy(OFFICIAL_TEMPLATES / f"{name}.json", root / category / f"{name}.json")
    (root / "classification" / "cover.Classification_ResNet.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "classification" / "readme.Classification_ResNet.md").write_text("# ResNet\n")
    (root / "detect" / "readme.template.md").write_text("# YOLO\n")
    (root / "README.md").write_text("# templates\n")
    (root / "detect" / "requirements.yolo.txt").write_text("nothing\n")
    (root / "detect" / "broken.json").write_text("{not json")
    (root / "detect" / "package.json").write_text('{"name": "not a graph"}')
    (root / ".github").mkdir()
    (root / ".github" / "x.json").write_text(json.dumps({"name_": "hidden", "node_repository_": []}))
    return root


@pytest.fixture
def extension_config(tmp_path: Path) -> dict:
    return {"template_dirs": [str(official_tree(tmp_path / "nndeploy-workflow"))]}


async def test_lists_builtin_and_official_layout_templates(api, tmp_path: Path):
    code, body = await api("GET", "template")
    assert code == 200 and body["flag"] == "success"
    by_name = {t["name_"]: t for t in body["result"]}
    assert {"Image_Edge_Detection", "Video_Edge_Detection", "Posterize_Plugin_Node"} <= set(by_name)
    assert {"Classification_ResNet", "Detect_YOLO"} <= set(by_name)
    assert "hidden" not in by_name and "not a graph" not in by_name and len(by_name) == 5

    resnet = by_name["Classification_ResNet"]
    assert resnet["category_"] == "classification"
    assert resnet["cover_"] == str(tmp_path / "nndeploy-workflow/classification/cover.Classification_ResNet.jpg")
    assert resnet["requirements_"] == "# ResNet\n"
    assert by_name["Detect_YOLO"]["requirements_"] == "# YOLO\n"  # readme.template.md as a fallback
    edge = by_name["Image_Edge_Detection"]
    assert edge["category_"] == "image" and Path(edge["cover_"]).is_file() and "Canny" in edge["requirements_"]


async def test_categories(api):
    code, body = await api("GET", "template/dir")
    assert code == 200
    assert body["result"] == ["classification", "custom_node", "detect", "image", "video"]


async def test_get_one_template_and_ids_are_stable(api):
    _, first = await api("GET", "template")
    _, second = await api("GET", "template")
    assert [t["id"] for t in first["result"]] == [t["id"] for t in second["result"]]
    resnet = next(t for t in first["result"] if t["name_"] == "Classification_ResNet")
    code, body = await api("GET", f"template/{resnet['id']}")
    assert code == 200 and body["result"]["name_"] == "Classification_ResNet"
    assert isinstance(body["result"]["node_repository_"], list)


async def test_ids_do_not_depend_on_where_the_package_or_the_workspace_is(api, workspace: Path):
    # once made from absolute paths: a reinstall or a moved workspace changed every id users had kept
    from nndeploy_jupyter.services.templates import _NAMESPACE

    await api("GET", "template")
    mine = workspace / "resources" / "template" / "mine"
    mine.mkdir(parents=True)
    (mine / "My_Graph.json").write_text(json.dumps({"name_": "My_Graph", "node_repository_": []}))
    _, body = await api("GET", "template")
    ids = {t["name_"]: t["id"] for t in body["result"]}
    assert ids["Image_Edge_Detection"] == str(uuid.uuid5(_NAMESPACE, "builtin::image/Image_Edge_Detection.json"))
    assert ids["My_Graph"] == str(uuid.uuid5(_NAMESPACE, "workspace::mine/My_Graph.json"))


async def test_a_template_listed_under_an_older_id_is_listed_under_the_new_one(api, workspace: Path):
    # a database from before the id change holds the same file under another id: once a 500 (UNIQUE path)
    from nndeploy_jupyter.services.templates import BUILTIN_DIR

    await api("GET", "template")
    path = str((BUILTIN_DIR / "image" / "Image_Edge_Detection.json").resolve())
    with sqlite3.connect(workspace / "resources" / "db" / "nndeploy.db", timeout=10) as conn:
        conn.execute("UPDATE templates SET id = 'an-older-id' WHERE path = ?", (path,))
    code, body = await api("GET", "template")
    assert code == 200
    assert [t["name_"] for t in body["result"]].count("Image_Edge_Detection") == 1
    assert "an-older-id" not in {t["id"] for t in body["result"]}


async def test_a_template_by_name(api):
    code, body = await api("GET", "template/Image_Edge_Detection")
    assert code == 200 and body["result"]["name_"] == "Image_Edge_Detection"


async def test_unknown_template_is_404(api):
    code, body = await api("GET", "template/not-a-template")
    assert code == 404 and body["flag"] == "error"


async def test_templates_dropped_into_resources_template_are_listed(api, workspace: Path):
    await api("GET", "template")
    mine = workspace / "resources" / "template" / "mine"
    mine.mkdir(parents=True)
    (mine / "My_Graph.json").write_text(json.dumps({"name_": "My_Graph", "node_repository_": []}))
    (mine / os.fsdecode(b"\xb2\xe2.json")).write_text(json.dumps({"name_": "Gbk", "node_repository_": []}))
    (mine / "Deep.json").write_text('{"node_repository_": [], "x": ' + "[" * 5000 + "]" * 5000 + "}")  # once a 500
    code, body = await api("GET", "template")
    assert code == 200 and not any(t["name_"] == "Deep" for t in body["result"])
    assert any(t["name_"] == "My_Graph" and t["category_"] == "mine" for t in body["result"])
    (mine / "My_Graph.json").unlink()
    _, body = await api("GET", "template")
    assert not any(t["name_"] == "My_Graph" for t in body["result"])


async def test_covers_are_shown_through_preview_as_nndeploys_frontend_does(api, tmp_path: Path):
    _, body = await api("GET", "template")
    covers = {t["name_"]: t["cover_"] for t in body["result"]}
    response = await api("GET", "preview", raw=True,
                         params={"file_path": covers["Image_Edge_Detection"], "returnMimeType": "image"})
    assert response.code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.body == Path(covers["Image_Edge_Detection"]).read_bytes()

    # only the listed cover files themselves: their neighbours stay out of reach
    beside = str(Path(covers["Classification_ResNet"]).with_name("readme.Classification_ResNet.md"))
    for outside in (beside, str(Path(covers["Image_Edge_Detection"]).parent / "Image_Edge_Detection.json")):
        code, refused = await api("GET", "preview", params={"file_path": outside, "returnMimeType": "text"})
        assert code == 403, refused
