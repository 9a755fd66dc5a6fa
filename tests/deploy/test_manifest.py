"""The Teams app package: manifest against Microsoft's own JSON schema, icons, zip, argument checks.

The schema comes from the npm package @microsoft/app-manifest, installed on first use into
.cache/npm (appmanifest.schema).  No skipping: without npm or the registry, these tests fail and say
why.  Icons are decoded with zlib here, so the tests do not need Pillow.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib

import pytest

from appmanifest.__main__ import main as cli_main
from appmanifest.build import PACKAGE_DIR, build_package, developer_is_placeholder, render_manifest
from appmanifest.schema import (
    MANIFEST_VERSION,
    NPM_PACKAGE,
    NPM_PACKAGE_VERSION,
    SchemaUnavailable,
    load_schema,
    schema_path,
    validation_errors,
)

BOT_ID = "1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b21"
APP_ID = "7c0e2a91-5f3b-4d88-a6e4-93b1c2d4e5f6"

PERSONAL_COMMANDS = {
    "book",
    "my meetings",
    "move",
    "cancel",
    "add colleague",
    "senior leader unavailable",
    "help",
}
OFFICER_COMMANDS = {"my week", "my schools", "book for school"}


# --------------------------------------------------------------------------- schema from npm


@pytest.fixture(scope="module")
def schema() -> dict:
    try:
        return load_schema(MANIFEST_VERSION)
    except SchemaUnavailable as exc:
        pytest.fail(
            f"Microsoft's Teams manifest schema ({NPM_PACKAGE}@{NPM_PACKAGE_VERSION}) could not be "
            f"installed with npm, so the manifest cannot be validated: {exc}",
            pytrace=False,
        )


@pytest.fixture
def manifest() -> dict:
    return render_manifest(BOT_ID, version="1.2.3", valid_domains=["tsm.example.gov.uk"])


def test_manifest_matches_microsoft_schema(manifest, schema):
    assert validation_errors(manifest, schema) == []


def test_manifest_with_all_options_matches_schema(schema):
    m = render_manifest(
        BOT_ID.upper(),
        app_id=APP_ID,
        version="10.0.1",
        valid_domains=["tsm.example.gov.uk", "*.example.gov.uk"],
        developer={
            "name": "Anyshire County Council",
            "websiteUrl": "https://www.anyshire.gov.uk/tsm",
            "privacyUrl": "https://www.anyshire.gov.uk/privacy",
            "termsOfUseUrl": "https://www.anyshire.gov.uk/terms",
        },
    )
    assert validation_errors(m, schema) == []


def test_validator_is_not_vacuous(manifest, schema):
    """The checks the brief leans on the schema for really are enforced by our validator."""
    too_many = json.loads(json.dumps(manifest))
    cmds = too_many["bots"][0]["commandLists"][0]["commands"]
    cmds.extend({"title": f"extra {i}", "description": "x"} for i in range(13 - len(cmds)))
    assert any("commandLists/0/commands" in e for e in validation_errors(too_many, schema))

    long_title = json.loads(json.dumps(manifest))
    long_title["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 129
    assert any("commands/0/title" in e for e in validation_errors(long_title, schema))

    long_desc = json.loads(json.dumps(manifest))
    long_desc["bots"][0]["commandLists"][0]["commands"][0]["description"] = "x" * 4001
    assert any("commands/0/description" in e for e in validation_errors(long_desc, schema))

    wrong_version = dict(manifest, manifestVersion="1.29")  # the schema pins it with "const"
    assert any(e.startswith("/manifestVersion") for e in validation_errors(wrong_version, schema))

    bad_bot = json.loads(json.dumps(manifest))
    bad_bot["bots"][0]["botId"] = "not-a-guid"
    assert any("botId" in e for e in validation_errors(bad_bot, schema))


def test_schema_comes_from_pinned_npm_package():
    path = schema_path(MANIFEST_VERSION)
    assert path.name == "MicrosoftTeams.schema.json"
    assert path.parent.name == f"v{MANIFEST_VERSION}"
    pkg = json.loads((path.parents[4] / "package.json").read_text())
    assert (pkg["name"], pkg["version"]) == (NPM_PACKAGE, NPM_PACKAGE_VERSION)
    assert json.loads(path.read_text(encoding="utf-8-sig"))["$schema"].startswith(
        "http://json-schema.org/draft-04/schema"
    )


def test_manifest_version_is_newest_in_pinned_package():
    """Bumping the npm pin should bring the manifest up to the newest schema it ships (or say why not)."""
    teams_dir = schema_path(MANIFEST_VERSION).parents[1]
    versions = [
        tuple(int(x) for x in d.name[1:].split("."))
        for d in teams_dir.iterdir()
        if re.fullmatch(r"v\d+\.\d+", d.name) and (d / "MicrosoftTeams.schema.json").is_file()
    ]
    assert max(versions) == tuple(int(x) for x in MANIFEST_VERSION.split("."))


def test_schema_url_matches_manifest_version(manifest):
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert manifest["$schema"] == (
        f"https://developer.microsoft.com/json-schemas/teams/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json"
    )


def test_schema_path_fails_clearly_without_npm(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    with pytest.raises(SchemaUnavailable, match="npm is not on PATH"):
        schema_path(cache_dir=tmp_path / "empty-cache")


# --------------------------------------------------------------------------- manifest content


def test_placeholders_filled(manifest):
    assert "{{" not in json.dumps(manifest)
    assert manifest["id"] == BOT_ID  # app id defaults to the bot id
    assert manifest["version"] == "1.2.3"
    assert manifest["bots"][0]["botId"] == BOT_ID


def test_explicit_app_id_and_guid_case():
    m = render_manifest(BOT_ID.upper(), app_id=APP_ID.upper())
    assert m["id"] == APP_ID
    assert m["bots"][0]["botId"] == BOT_ID
    assert m["webApplicationInfo"]["id"] == BOT_ID


def test_bot_scopes_and_command_lists(manifest):
    bot = manifest["bots"][0]
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    lists = bot["commandLists"]
    for cl in lists:
        assert 1 <= len(cl["commands"]) <= 12
        assert set(cl["scopes"]) <= set(bot["scopes"])
        titles = [c["title"] for c in cl["commands"]]
        assert len(titles) == len(set(titles))
        for c in cl["commands"]:
            # Stricter than v1.30's 128/4000: the limits of schemas up to v1.21, which older clients apply.
            assert 0 < len(c["title"]) <= 32, c
            assert 0 < len(c.get("description", "")) <= 128, c
    # Each scope has at most one list.
    scopes = [s for cl in lists for s in cl["scopes"]]
    assert len(scopes) == len(set(scopes))
    personal = next(cl for cl in lists if "personal" in cl["scopes"])
    assert {c["title"] for c in personal["commands"]} >= PERSONAL_COMMANDS | OFFICER_COMMANDS
    book = next(c for c in personal["commands"] if c["title"] == "book")
    assert book["description"] == "Book this term's TSM"


def test_meeting_event_permissions(manifest):
    assert manifest["webApplicationInfo"] == {"id": BOT_ID, "resource": f"api://botid-{BOT_ID}"}
    rsc = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "OnlineMeeting.ReadBasic.Chat", "type": "Application"} in rsc
    assert {"name": "ChannelMeeting.ReadBasic.Group", "type": "Application"} in rsc
    # The bot only needs messages sent to it, not every message in a chat.
    assert not any(p["name"].startswith("ChatMessage.") for p in rsc)


def test_valid_domains():
    m = render_manifest(BOT_ID, valid_domains=["tsm.example.gov.uk", "TSM.example.gov.uk", "*.example.org"])
    assert m["validDomains"] == ["tsm.example.gov.uk", "*.example.org"]
    assert render_manifest(BOT_ID)["validDomains"] == []


def test_developer_placeholder_and_override():
    assert developer_is_placeholder(render_manifest(BOT_ID))
    m = render_manifest(
        BOT_ID,
        developer={
            "name": "Anyshire County Council",
            "websiteUrl": "https://www.anyshire.gov.uk/tsm",
            "privacyUrl": "https://www.anyshire.gov.uk/privacy",
            "termsOfUseUrl": "https://www.anyshire.gov.uk/terms",
        },
    )
    assert m["developer"]["name"] == "Anyshire County Council"
    assert not developer_is_placeholder(m)


def test_template_is_not_modified_by_render():
    first = render_manifest(BOT_ID, valid_domains=["a.example.org"])
    second = render_manifest(APP_ID)
    assert second["validDomains"] == []
    assert first["bots"][0]["botId"] == BOT_ID


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-guid",
        "1b4f8c5e2d7a4e619c3b0a8d5f6e7b21",
        "{1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b21}",
        "1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b21x",
        "1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b2g",
        "28:1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b21",
    ],
)
def test_bad_bot_id_refused(bad, tmp_path):
    out = tmp_path / "app.zip"
    with pytest.raises(ValueError, match="bot id must be a GUID"):
        build_package(bad, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_app_id_refused():
    with pytest.raises(ValueError, match="app id must be a GUID"):
        render_manifest(BOT_ID, app_id="my-app")


@pytest.mark.parametrize("bad", ["1.0", "1.0.0-beta", "v1.0.0", "01.0.0", ""])
def test_bad_version_refused(bad):
    with pytest.raises(ValueError, match="version"):
        render_manifest(BOT_ID, version=bad)


@pytest.mark.parametrize(
    "bad", ["https://tsm.example.gov.uk", "tsm.example.gov.uk/path", "localhost", "a b.org"]
)
def test_bad_domain_refused(bad):
    with pytest.raises(ValueError, match="valid domain"):
        render_manifest(BOT_ID, valid_domains=[bad])


def test_bad_developer_refused():
    with pytest.raises(ValueError, match="https://"):
        render_manifest(BOT_ID, developer={"websiteUrl": "http://example.org"})
    with pytest.raises(ValueError, match="unknown developer"):
        render_manifest(BOT_ID, developer={"email": "x@example.org"})
    with pytest.raises(ValueError, match="1-32"):
        render_manifest(BOT_ID, developer={"name": "x" * 33})


# --------------------------------------------------------------------------- the zip


def test_package_contents(tmp_path):
    out = build_package(
        BOT_ID, tmp_path / "sub" / "tsm.zip", version="2.0.0", valid_domains=["tsm.example.gov.uk"]
    )
    assert out == tmp_path / "sub" / "tsm.zip"
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]  # all at the root
        raw = zf.read("manifest.json")
        assert not raw.startswith(b"\xef\xbb\xbf")
        packaged = json.loads(raw.decode("utf-8"))
        assert packaged == render_manifest(BOT_ID, version="2.0.0", valid_domains=["tsm.example.gov.uk"])
        icons = packaged["icons"]
        for name in (icons["color"], icons["outline"]):
            assert zf.read(name) == (PACKAGE_DIR / name).read_bytes()
    assert [p.name for p in out.parent.iterdir()] == ["tsm.zip"]  # no temp file left behind


def test_package_is_reproducible(tmp_path):
    a = build_package(BOT_ID, tmp_path / "a.zip")
    b = build_package(BOT_ID, tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()


def test_package_into_directory(tmp_path):
    out = build_package(BOT_ID, tmp_path, version="1.4.0")
    assert out == tmp_path / "tsm-bot-teams-1.4.0.zip"
    assert zipfile.is_zipfile(out)


def test_module_cli(tmp_path, capsys):
    out = tmp_path / "app.zip"
    assert cli_main(["--bot-id", BOT_ID, "--out", str(out), "--version", "1.0.1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "placeholders" in captured.err
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read("manifest.json"))["version"] == "1.0.1"

    with pytest.raises(SystemExit) as exc:
        cli_main(["--bot-id", "nope", "--out", str(tmp_path / "bad.zip")])
    assert exc.value.code == 2
    assert "bot id must be a GUID" in capsys.readouterr().err
    assert not (tmp_path / "bad.zip").exists()


def test_module_cli_check_against_schema(tmp_path, capsys, schema):
    out = tmp_path / "checked.zip"
    args = ["--bot-id", BOT_ID, "--out", str(out), "--check", "--developer-name", "Anyshire County Council"]
    args += [
        "--website-url",
        "https://www.anyshire.gov.uk/tsm",
        "--privacy-url",
        "https://www.anyshire.gov.uk/p",
    ]
    args += ["--terms-url", "https://www.anyshire.gov.uk/t", "--valid-domain", "tsm.anyshire.gov.uk"]
    assert cli_main(args) == 0
    assert capsys.readouterr().err == ""  # no placeholder warning, no schema errors
    with zipfile.ZipFile(out) as zf:
        m = json.loads(zf.read("manifest.json"))
    assert m["developer"]["name"] == "Anyshire County Council"
    assert m["validDomains"] == ["tsm.anyshire.gov.uk"]


# --------------------------------------------------------------------------- icons (no Pillow)


def _decode_png(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, rows) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(ctype + body) == crc, f"bad CRC in {ctype!r}"
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        elif ctype == b"IEND":
            break
        pos += 12 + length
    assert ihdr is not None
    width, height, depth, colour, _comp, _filt, interlace = ihdr
    assert depth == 8 and interlace == 0 and colour in (2, 6), f"unsupported PNG {ihdr}"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
            else:
                assert ftype == 0, f"bad filter {ftype}"
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def _icon(name: str) -> tuple[int, int, int, list[bytes]]:
    return _decode_png((PACKAGE_DIR / name).read_bytes())


def test_color_icon():
    width, height, channels, rows = _icon("color.png")
    assert (width, height) == (192, 192)
    pixels = [tuple(r[i : i + channels]) for r in rows for i in range(0, len(r), channels)]
    if channels == 4:
        assert all(p[3] == 255 for p in pixels), "colour icon should be opaque"
    colours = {p[:3] for p in pixels}
    assert any(len(set(c)) > 1 for c in colours), "colour icon has no colour"
    assert len(colours) > 2  # a symbol on a background


def test_outline_icon_is_white_on_transparent():
    width, height, channels, rows = _icon("outline.png")
    assert (width, height) == (32, 32)
    assert channels == 4, "outline icon needs an alpha channel"
    pixels = [tuple(r[i : i + 4]) for r in rows for i in range(0, len(r), 4)]
    visible = [p for p in pixels if p[3] > 0]
    assert all(p[:3] == (255, 255, 255) for p in visible), "outline icon must be white only"
    assert sum(p[3] == 0 for p in pixels) > len(pixels) // 2, "background must be transparent"
    assert sum(p[3] == 255 for p in pixels) >= 40, "outline icon has too little ink"
    corners = [rows[y][x * 4 + 3] for y in (0, 31) for x in (0, 31)]
    assert corners == [0, 0, 0, 0]


def test_icons_are_the_files_the_manifest_names(manifest):
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert (PACKAGE_DIR / "color.png").is_file() and (PACKAGE_DIR / "outline.png").is_file()
